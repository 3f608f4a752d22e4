"""Python's multiprocessing under Amber: a Pool of 3 workers maps a function over long lists, and
a Queue carries numbers from a producer process to a consumer process, all the while the
application is snapshotted and restored (the test does it between "ready" and <dir>/go). Idle
workers wait on the pool's task lock, a POSIX semaphore in a /dev/shm file that every process
maps shared (deleted at once with fork; sem_open'ed by name with spawn and forkserver, which
also run a resource tracker): after a restore the lock must still be one lock, and its waiters
wake. Usage: py_multiprocessing.py DIR [fork|spawn|forkserver]"""
import multiprocessing as mp
import os
import sys
import time

go = os.path.join(sys.argv[1], "go")
LIMIT = 60  # seconds any one wait may take before the program says it hung


def square(x):
    time.sleep(0.0005)
    return x * x


def producer(q):
    """Sends 0, 1, 2, ... until the go file exists, then how many it sent, as a negative."""
    sent = 0
    while not os.path.exists(go):
        for _ in range(50):
            q.put(sent)
            sent += 1
        time.sleep(0.005)
    q.put(-sent - 1)


def consumer(q, out):
    count = total = 0
    while True:
        x = q.get(timeout=LIMIT)
        if x < 0:
            out.put((count, total, -x - 1))
            return
        count += 1
        total += x


def main():
    ctx = mp.get_context(sys.argv[2] if len(sys.argv) > 2 else "fork")
    pool = ctx.Pool(3)
    q, out = ctx.Queue(), ctx.Queue()
    prod = ctx.Process(target=producer, args=(q,))
    cons = ctx.Process(target=consumer, args=(q, out))
    prod.start()
    cons.start()
    rounds = 0

    def one_round(n):
        got = pool.map_async(square, range(n), chunksize=7).get(timeout=LIMIT)
        if got != [x * x for x in range(n)]:
            raise AssertionError(f"a pool map returned wrong results (round {rounds})")

    one_round(300)
    print("ready", flush=True)
    # The pool works through the snapshots, and idles between rounds: its idle workers then
    # wait on the lock of its task queue while one of them reads the queue's pipe.
    while not os.path.exists(go):
        one_round(600)
        rounds += 1
        print(f"round {rounds}", flush=True)
        time.sleep(0.05)
    one_round(20000)
    count, total, sent = out.get(timeout=LIMIT)
    prod.join(LIMIT)
    cons.join(LIMIT)
    if (count, total) != (sent, sent * (sent - 1) // 2):
        raise AssertionError(f"the queue lost or changed items: {count} of {sent}, sum {total}")
    if prod.exitcode != 0 or cons.exitcode != 0:
        raise AssertionError(f"producer/consumer exit codes {prod.exitcode}/{cons.exitcode}")
    pool.close()
    pool.join()
    print(f"rounds {rounds}, items {sent}", flush=True)
    print("PASS", flush=True)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # a timeout is a hang: say so rather than wait forever
        print(f"FAIL {type(e).__name__}: {e}", flush=True)
        os._exit(1)
