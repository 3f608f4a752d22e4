/**
 * File locks across a snapshot and restore: flock locks (one on a description a parent shares
 * with its forked child, one held by the child alone), POSIX record locks and OFD locks, with
 * their exact ranges and types. The program (tests/progs/file_locks.c) checks from inside that
 * they are its own, and that its processes see them held by virtual pids; lock_checker, run
 * outside Amber, checks that each is held by the restored process (and can be taken once
 * released). A lock someone took meanwhile fails the restore; a lease fails the snapshot. And
 * the acceptance test: a SQLite writer in WAL mode, whose locks on the database and its -shm file
 * keep its open transaction its own (without them, a second connection takes the database for
 * unused: it writes or removes the -shm file the restored writer has mapped, and its WAL).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { type App, RestoreError, SnapshotError } from "../mod.ts";
import { prog, type Scenario, scenarioTest } from "./support.ts";

const LIMIT_MS = 90_000;

/** The system pids of the application's processes, in the order of their virtual pids. */
function systemPids(app: App): number[] {
  return app.processes().sort((a, b) => a.vpid - b.vpid).map((p) => p.pid);
}

/** Runs lock_checker outside Amber: "held" by `app`'s parent and child, or "free". */
async function checkOutside(s: Scenario, app: App | null): Promise<void> {
  const args = app ? [s.dir, "held", ...systemPids(app).slice(0, 2).map(String)] : [s.dir, "free"];
  const out = await new Deno.Command(prog("lock_checker"), { args, stdout: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, `The outside checker (${args.join(" ")}) failed:\n${text}`);
  assert.match(text, /^PASS$/m);
}

async function touch(s: Scenario, name: string): Promise<void> {
  await Deno.writeTextFile(join(s.dir, name), "");
}

/** Lets the restored program check round `round` from inside, then checks from outside. */
async function round(s: Scenario, app: App, round: number): Promise<void> {
  await touch(s, `go${round}`);
  await s.waitFor(new RegExp(`^locked ${round}$`, "m"), `locked ${round}`);
  await s.waitFor(new RegExp(`^child locked ${round}$`, "m"), `child locked ${round}`);
  await checkOutside(s, app);
}

/** The program releases every lock; the outside checker takes each; PASS. */
async function release(s: Scenario): Promise<void> {
  await touch(s, "release");
  await s.waitFor(/^released$/m, "released");
  await checkOutside(s, null);
  await touch(s, "done");
  await s.waitFor(/^PASS$/m, "PASS");
}

async function launchLocker(s: Scenario): Promise<App> {
  const app = await s.launch([prog("file_locks"), s.dir], "locks");
  await s.waitFor(/^ready$/m, "ready");
  await checkOutside(s, app);
  return app;
}

scenarioTest(
  "flock, POSIX and OFD locks are taken again by the restored processes, through two snapshots",
  async (s) => {
    const app = await launchLocker(s);
    const image = await s.freeze(app, "first");
    const saved = image.manifest.processes.flatMap((p) =>
      (p.details?.locks as { kind: string; type: string; start: number; end: number }[])
        .map((l) => `${l.kind} ${l.type} ${l.start} ${l.end}`)
    );
    assert.deepEqual(saved.sort(), [
      "flock read 0 -1", // the child's, on the description it alone holds
      "flock write 0 -1", // once, by the parent, which owns the shared description
      "ofd read 30 39",
      "ofd write 10 19",
      "posix read 200 299",
      "posix write 0 99",
      "posix write 1000 -1",
      "posix write 500 599", // the child's, on the description the parent owns
    ]);
    const first = await s.restore(image);
    await round(s, first, 1);
    const second = await s.restore(await s.freeze(first, "second"));
    await round(s, second, 2);
    await release(s);
  },
  LIMIT_MS,
);

scenarioTest(
  "file locks of a program snapshotted without stop are held again once the original has ended",
  async (s) => {
    const app = await launchLocker(s);
    const image = await app.snapshot({ dir: join(s.dir, "running.amber") });
    await checkOutside(s, app); // the original runs on and keeps them
    await app.kill();
    const restored = await s.restore(image);
    await round(s, restored, 1);
    await release(s);
  },
  LIMIT_MS,
);

scenarioTest(
  "a restore fails naming the lock and its holder when another process holds it meanwhile",
  async (s) => {
    const app = await launchLocker(s);
    const image = await app.snapshot({ dir: join(s.dir, "running.amber") });
    await assert.rejects(s.restore(image), (e: unknown) => {
      assert.ok(e instanceof RestoreError, `Expected a RestoreError, got ${e}`);
      assert.match(e.message, /cannot take its (read|write) (flock|POSIX lock|OFD lock) on \//);
      assert.match(e.message, /flock-shared|flock-child|posix|ofd/);
      const holder = /: process (\d+) \(a system pid, outside the restored application\)/
        .exec(e.message);
      assert.ok(holder, `No holder named in: ${e.message}`);
      assert.ok(systemPids(app).includes(Number(holder[1])), "The holder is not the original");
      return true;
    });
    await checkOutside(s, app); // the original still holds every lock
  },
  LIMIT_MS,
);

scenarioTest(
  "processes waiting for a flock, POSIX or OFD lock wait on after restore, and get it when let go",
  async (s) => {
    const app = await s.launch([prog("file_locks"), s.dir, "waiters"], "waiters");
    await s.waitFor(/^ready$/m, "ready");
    await s.restore(await s.freeze(app));
    const text = await s.pass();
    for (const kind of [0, 1, 2]) {
      assert.match(text, new RegExp(`^waiter ${kind} got its lock$`, "m"));
    }
  },
  LIMIT_MS,
);

scenarioTest(
  "a snapshot of a program holding a lease fails naming it, and the program runs on",
  async (s) => {
    const app = await s.launch([prog("file_locks"), s.dir, "lease"], "lease");
    await s.waitFor(/^ready$/m, "ready");
    const dir = join(s.dir, "lease.amber");
    await assert.rejects(app.snapshot({ dir, stop: true }), (e: unknown) => {
      assert.ok(e instanceof SnapshotError, `Expected a SnapshotError, got ${e}`);
      assert.match(e.message, /descriptor \d+ \(.*leased\) holds a lease/);
      return true;
    });
    await s.pass();
  },
  LIMIT_MS,
);

/** A second SQLite writer outside Amber: "locked", or "inserted <rows> <integrity_check>". */
async function outsideWriter(s: Scenario): Promise<string> {
  const code = `
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=0)
try:
    db.execute("INSERT INTO t (v) VALUES ('outside')")
except sqlite3.OperationalError as e:
    print("locked" if "database is locked" in str(e) else f"error {e}")
    sys.exit(0)
rows = db.execute("SELECT count(*) FROM t").fetchone()[0]
print("inserted", rows, db.execute("PRAGMA integrity_check").fetchone()[0])
`;
  const args = ["-c", code, join(s.dir, "db.sqlite")];
  const out = await new Deno.Command("python3", { args, stdout: "piped" }).output();
  assert.equal(out.code, 0, "The outside writer failed");
  return new TextDecoder().decode(out.stdout).trim();
}

scenarioTest(
  "a SQLite writer in WAL mode holding a transaction goes on after restore, and keeps others out",
  async (s) => {
    const python = new Deno.Command("python3", {
      args: ["-c", "import sys; print(sys.executable)"],
    });
    const executable = new TextDecoder().decode((await python.output()).stdout).trim();
    const script = new URL("./progs/sqlite_wal.py", import.meta.url).pathname;
    const rows: number[] = [];
    const holding = async (n: number) => {
      const text = await s.waitFor(new RegExp(`^holding ${n} \\d+$`, "m"), `holding ${n}`);
      rows.push(Number(new RegExp(`^holding ${n} (\\d+)$`, "m").exec(text)![1]));
      assert.equal(await outsideWriter(s), "locked");
    };
    let app = await s.launch([executable, script, s.dir], "sqlite");
    await holding(1);
    for (const n of [1, 2]) {
      // The first snapshot lets the writer run on (it is ended after), the second stops it.
      const dir = join(s.dir, `cycle${n}.amber`);
      const image = await app.snapshot({ dir, stop: n === 2 });
      if (n === 1) {
        assert.equal(await outsideWriter(s), "locked"); // the original still holds it
        await app.kill();
      }
      app = await s.restore(image);
      assert.equal(await outsideWriter(s), "locked"); // the restored transaction keeps it out
      await touch(s, `go${n}`);
      await holding(n + 1);
    }
    await touch(s, "finish");
    const text = await s.waitFor(/^PASS$/m, "PASS");
    const final = Number(/^rows (\d+)$/m.exec(text)![1]);
    assert.ok(rows.every((r, i) => i === 0 || r > rows[i - 1]), `Rows went ${rows}`);
    assert.ok(final > rows[rows.length - 1]);
    // The writer closes its connection after it said PASS: until then it may still hold it.
    let outside = await outsideWriter(s);
    for (let i = 0; outside === "locked" && i < 50; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      outside = await outsideWriter(s);
    }
    assert.equal(outside, `inserted ${final + 1} ok`);
  },
  LIMIT_MS,
);
