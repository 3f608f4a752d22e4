"""Both ends of TCP connections inside the application: a server and the client it forks,
echoing rounds over N loopback connections (DIR N). The server says "ready" after 10 rounds;
on DIR/go it waits for 50 more and says PASS, or FAIL if a connection ended or was reset, or a
reply was wrong."""
import os, signal, socket, sys, time

DIR, N = sys.argv[1], int(sys.argv[2])
listener = socket.create_server(("127.0.0.1", 0))
port = listener.getsockname()[1]

child = os.fork()
if child == 0:
    listener.close()
    try:
        conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(N)]
        for n in range(10**9):
            for i, c in enumerate(conns):
                c.sendall(b"%d %d\n" % (i, n))
            for i, c in enumerate(conns):
                line = c.recv(64)
                if line != b"%d %d\n" % (i, n):
                    raise RuntimeError(f"connection {i} round {n} read {line!r}")
            time.sleep(0.01)
    except Exception as e:
        print(f"FAIL: the client: {e!r}", flush=True)
        os._exit(1)

try:
    server = [listener.accept()[0] for _ in range(N)]
    go_at = None
    for rounds in range(1, 10**9):
        for s in server:
            line = s.recv(64)
            if not line:
                raise RuntimeError("a connection ended")
            s.sendall(line)
        if rounds == 10:
            print("ready", flush=True)
        if go_at is None and rounds > 10 and os.path.exists(os.path.join(DIR, "go")):
            go_at = rounds
        if go_at is not None and rounds >= go_at + 50:
            print("PASS", flush=True)
            break
except Exception as e:
    print(f"FAIL: the server: {e!r}", flush=True)
os.kill(child, signal.SIGKILL)
