"""A TCP server with the options servers set on their listener (nginx's so_keepalive= and
deferred, Redis's tcp-keepalive): keepalive timing and TCP_DEFER_ACCEPT. Says "ready"; on
DIR/go checks its listener, and a connection it accepts then, still have them: PASS or FAIL."""
import os, socket, sys, time

DIR = sys.argv[1]
WANT = {socket.TCP_KEEPIDLE: 1800, socket.TCP_KEEPINTVL: 10, socket.TCP_KEEPCNT: 5}
listener = socket.create_server(("127.0.0.1", 0))
listener.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
for name, value in WANT.items():
    listener.setsockopt(socket.IPPROTO_TCP, name, value)
listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 1)
defer = listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT)  # in the kernel's steps


def options(s):
    got = {name: s.getsockopt(socket.IPPROTO_TCP, name) for name in WANT}
    return got, s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)


print("ready", flush=True)
while not os.path.exists(os.path.join(DIR, "go")):
    time.sleep(0.02)
client = socket.create_connection(listener.getsockname())
client.sendall(b"x")  # a deferred accept waits for data
conn, _ = listener.accept()
problems = []
for what, s in (("listener", listener), ("accepted connection", conn)):
    got, keepalive = options(s)
    if got != WANT or not keepalive:
        problems.append(f"{what}: keepalive {keepalive}, {got}")
if listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT) != defer:
    problems.append("listener: TCP_DEFER_ACCEPT lost")
print("FAIL: " + "; ".join(problems) if problems else "PASS", flush=True)
