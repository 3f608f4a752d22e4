"""An asyncio server that forks its client (multiprocessing, fork) from inside its running loop:
the child inherits the loop's epoll, which then also registers the connections the server
accepts after the fork, files the child never holds. The child echoes rounds over N Unix
connections (DIR N, 20 if not given); the server says "ready" once some rounds went through, and on DIR/go waits for
more rounds and says PASS (FAIL if the client died or a reply was wrong)."""
import asyncio, multiprocessing, os, sys

DIR = sys.argv[1]
SOCK = os.path.join(DIR, "sock")
N = int(sys.argv[2]) if len(sys.argv) > 2 else 20
served = 0


async def handle(reader, writer):
    global served
    while line := await reader.readline():
        served += 1
        writer.write(line)
        await writer.drain()


async def rounds():
    conns = [await asyncio.open_unix_connection(SOCK) for _ in range(N)]
    for n in range(10**9):
        for i, (_, w) in enumerate(conns):
            w.write(b"%d %d\n" % (i, n))
        for i, (r, _) in enumerate(conns):
            line = await r.readline()
            if line != b"%d %d\n" % (i, n):
                print(f"FAIL: connection {i} round {n} read {line!r}", flush=True)
                os._exit(1)
        await asyncio.sleep(0.01)


def client():
    asyncio.run(rounds())


async def main():
    await asyncio.start_unix_server(handle, SOCK, backlog=N + 10)  # connects never wait
    child = multiprocessing.get_context("fork").Process(target=client)
    child.start()
    ready_at = go_at = None
    while True:
        await asyncio.sleep(0.01)
        if not child.is_alive():
            print(f"FAIL: the client ended ({child.exitcode})", flush=True)
            return
        if ready_at is None and served >= 5 * N:
            ready_at = served
            print("ready", flush=True)
        if go_at is None and os.path.exists(os.path.join(DIR, "go")):
            go_at = served
        if go_at is not None and served >= go_at + 20 * N:
            child.kill()
            print("PASS", flush=True)
            return


if __name__ == "__main__":
    asyncio.run(main())
