"""A SQLite writer in WAL mode: commits rows in transactions, then holds one transaction open
(its write lock on the database's -shm file) and says "holding N" with the rows committed so
far. On DIR/goN it goes on in that transaction (after a restore: no signal, the same
connection), commits it, commits more, checks the database, and holds a new one; on DIR/finish
it commits, checks, and says PASS."""
import os, sqlite3, sys, time

dir = sys.argv[1]
db = sqlite3.connect(os.path.join(dir, "db.sqlite"), isolation_level=None, timeout=0)
assert db.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
db.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)")


def count():
    return db.execute("SELECT count(*) FROM t").fetchone()[0]


def commit_some(n):
    for _ in range(n):
        db.execute("BEGIN IMMEDIATE")
        db.executemany("INSERT INTO t (v) VALUES (?)", [("x" * 100,)] * 20)
        db.execute("COMMIT")


def check(seen):
    ok = db.execute("PRAGMA integrity_check").fetchone()[0]
    assert ok == "ok", f"integrity_check says {ok}"
    now = count()
    assert now > seen, f"{now} rows after {seen}"
    return now


def wait_for(*names):
    while True:
        for name in names:
            if os.path.exists(os.path.join(dir, name)):
                return name
        time.sleep(0.01)


commit_some(50)
seen = check(0)
for round in range(1, 100):
    db.execute("BEGIN IMMEDIATE")
    db.executemany("INSERT INTO t (v) VALUES (?)", [("open",)] * 10)
    print(f"holding {round} {seen}", flush=True)
    step = wait_for(f"go{round}", "finish")
    db.executemany("INSERT INTO t (v) VALUES (?)", [("open",)] * 10)
    db.execute("COMMIT")
    seen = check(seen)
    if step == "finish":
        break
    commit_some(20)
    seen = check(seen)
    print(f"committed {round} {seen}", flush=True)
print(f"rows {seen}", flush=True)
print("PASS", flush=True)
