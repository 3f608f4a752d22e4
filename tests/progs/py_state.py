"""A real interpreter under Amber: state built in memory before the snapshot is checked after
the restore, and the interpreter carries on (imports, allocation, threads, time)."""
import hashlib, os, sys, threading, time

go = os.path.join(sys.argv[1], "go")
table = {i: hashlib.sha256(str(i).encode()).hexdigest() for i in range(50000)}
ticks = []
def ticker():
    while True:
        ticks.append(time.monotonic())
        time.sleep(0.01)
threading.Thread(target=ticker, daemon=True).start()
pid = os.getpid()
print("ready", flush=True)
while not os.path.exists(go):
    time.sleep(0.01)
n = len(ticks)
time.sleep(0.2)
assert len(ticks) > n, "the ticker thread stopped"
assert all(table[i] == hashlib.sha256(str(i).encode()).hexdigest() for i in range(50000))
assert os.getpid() == pid, "the pid changed"
import json  # an import after restore
print(json.dumps({"entries": len(table)}))
print("PASS", flush=True)
