/**
 * SysV IPC under Amber: semaphore sets, shared-memory segments and message queues get virtual
 * IDs that every process of one application shares, that never name a system object, that
 * start again at 1000000 in every application, and that a snapshot and a restore keep.
 *
 * The programs (tests/progs/sysv_*.c) print their IDs and "READY" while a child is blocked in
 * semop or msgrcv, then wait for a "go" file, so that this test can look at /proc/sysvipc,
 * snapshot or restore meanwhile; then they check their objects and print "PASS".
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type App, launch, restore } from "../mod.ts";

const PROGS = fileURLToPath(new URL("../build/tests/", import.meta.url));
const TIME_LIMIT_MS = 60_000;
const VIPC_BASE = 1_000_000;

type IpcKind = "sem" | "shm" | "msg";
const IPCRM_FLAG: Record<IpcKind, string> = { sem: "-s", shm: "-m", msg: "-q" };

/** A program running under Amber, its output file, and the file that lets it finish. */
interface Run {
  app: App;
  output: string;
  go: string;
  /** Every SysV object seen in its tables, as ipcrm arguments: removed at the end. */
  objects: Set<string>;
}

async function start(dir: string, prog: string, tag: string): Promise<Run> {
  const output = join(dir, `${tag}.out`);
  const go = join(dir, `${tag}.go`);
  const name = `sysv-${tag}-${crypto.randomUUID().slice(0, 8)}`;
  const app = await launch([join(PROGS, prog), go], { name, output });
  return { app, output, go, objects: new Set() };
}

function isIpc(kind: string): kind is IpcKind {
  return kind === "sem" || kind === "shm" || kind === "msg";
}

/** Notes the run's SysV objects, so that they can be removed even if it never removes them. */
function remember(run: Run): void {
  try {
    for (const r of run.app.tables()) {
      if (isIpc(r.kind) && r.sid >= 0) run.objects.add(`${IPCRM_FLAG[r.kind]} ${r.sid}`);
    }
  } catch {
    // The application has ended and its tables with it.
  }
}

async function readOutput(run: Run): Promise<string> {
  try {
    return await Deno.readTextFile(run.output);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return "";
    throw e;
  }
}

/** Waits for the program to say READY; fails early if it says FAIL. */
async function ready(run: Run, deadline: number): Promise<string> {
  for (;;) {
    const text = await readOutput(run);
    remember(run);
    if (text.includes("FAIL")) assert.fail(`The program failed before READY:\n${text}`);
    if (text.includes("READY")) return text;
    if (Date.now() > deadline) assert.fail(`The program did not say READY in time:\n${text}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Lets the program finish and checks that it passed. */
async function finish(run: Run, deadline: number): Promise<string> {
  await Deno.writeTextFile(run.go, "");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error("The program did not end in time")),
      Math.max(0, deadline - Date.now()),
    );
  });
  try {
    const status = await Promise.race([run.app.wait(), late]);
    const text = await readOutput(run);
    assert.equal(status.code, 0, `The program exited with ${status.code}:\n${text}`);
    assert.match(text, /^PASS$/m, text);
    return text;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Ends whatever is left, even when the test failed. SysV objects outlive their processes: those
 * of a program that was stopped or failed before removing them are removed here.
 */
async function cleanup(runs: Run[], dir: string): Promise<void> {
  for (const run of runs) {
    remember(run);
    await Deno.writeTextFile(run.go, "").catch(() => {});
    await run.app.kill().catch(() => {});
    for (const object of run.objects) {
      await new Deno.Command("ipcrm", { args: object.split(" "), stderr: "null" }).output()
        .catch(() => {});
    }
  }
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}

/** The IDs from the program's "ids sem=1000000 shm=1000000" line. */
function ids(text: string): Partial<Record<IpcKind, number>> {
  const line = text.split("\n").find((l) => l.startsWith("ids "));
  assert.ok(line, `No "ids" line in:\n${text}`);
  return Object.fromEntries(
    line.slice(4).split(" ").map((kv) => {
      const [k, v] = kv.split("=");
      return [k, Number(v)];
    }),
  );
}

/** The system IDs in /proc/sysvipc/<kind> (its second column). */
async function systemIds(kind: IpcKind): Promise<Set<number>> {
  const text = await Deno.readTextFile(`/proc/sysvipc/${kind}`);
  return new Set(
    text.split("\n").slice(1).filter((l) => l.trim()).map((l) => Number(l.trim().split(/\s+/)[1])),
  );
}

/**
 * The program's virtual ID is not a system ID, and the table points it at a system object that
 * exists. Returns that system ID.
 */
async function checkVirtual(run: Run, kind: IpcKind, vid: number | undefined): Promise<number> {
  assert.ok(vid !== undefined && vid >= VIPC_BASE, `Expected a virtual ${kind} ID, found ${vid}`);
  const system = await systemIds(kind);
  assert.ok(!system.has(vid), `Virtual ${kind} ID ${vid} is also a system ID`);
  const row = run.app.tables().find((r) => r.kind === kind && r.vid === vid);
  assert.ok(row, `No ${kind} row for virtual ID ${vid}`);
  assert.ok(system.has(row.sid), `System ${kind} ID ${row.sid} is not in /proc/sysvipc/${kind}`);
  return row.sid;
}

Deno.test("two processes share a semaphore and a segment by virtual ID", async () => {
  const deadline = Date.now() + TIME_LIMIT_MS;
  const dir = await Deno.makeTempDir({ prefix: "amber-sysv-" });
  const runs: Run[] = [];
  try {
    runs.push(await start(dir, "sysv_sem_shm", "semshm"));
    const { sem, shm } = ids(await ready(runs[0], deadline));
    await checkVirtual(runs[0], "sem", sem);
    await checkVirtual(runs[0], "shm", shm);
    await finish(runs[0], deadline);
  } finally {
    await cleanup(runs, dir);
  }
});

Deno.test("a message queue round trip between two processes uses virtual IDs and pids", async () => {
  const deadline = Date.now() + TIME_LIMIT_MS;
  const dir = await Deno.makeTempDir({ prefix: "amber-sysv-" });
  const runs: Run[] = [];
  try {
    runs.push(await start(dir, "sysv_msg", "msg"));
    const { msg } = ids(await ready(runs[0], deadline));
    await checkVirtual(runs[0], "msg", msg);
    await finish(runs[0], deadline);
  } finally {
    await cleanup(runs, dir);
  }
});

Deno.test("two applications running at once both see virtual semid 1000000", async () => {
  const deadline = Date.now() + TIME_LIMIT_MS;
  const dir = await Deno.makeTempDir({ prefix: "amber-sysv-" });
  const runs: Run[] = [];
  try {
    runs.push(await start(dir, "sysv_sem_shm", "first"));
    runs.push(await start(dir, "sysv_sem_shm", "second"));
    const first = ids(await ready(runs[0], deadline));
    const second = ids(await ready(runs[1], deadline));
    assert.equal(first.sem, VIPC_BASE);
    assert.equal(second.sem, VIPC_BASE);
    const a = await checkVirtual(runs[0], "sem", first.sem);
    const b = await checkVirtual(runs[1], "sem", second.sem);
    assert.notEqual(a, b, "The two semid 1000000 name different system objects");
    await finish(runs[0], deadline);
    await finish(runs[1], deadline);
  } finally {
    await cleanup(runs, dir);
  }
});

for (const [prog, what] of [["sysv_sem_shm", "semop"], ["sysv_msg", "msgrcv"]] as const) {
  Deno.test(`a snapshot neither wakes a blocked ${what} nor loses IPC contents`, async () => {
    const deadline = Date.now() + TIME_LIMIT_MS;
    const dir = await Deno.makeTempDir({ prefix: "amber-sysv-" });
    const runs: Run[] = [];
    try {
      runs.push(await start(dir, prog, "snap"));
      await ready(runs[0], deadline);
      const image = await runs[0].app.snapshot({ dir: join(dir, "image") });
      const stat = await Deno.stat(join(image.dir, "ipc.bin"));
      assert.equal(stat.mode! & 0o777, 0o600);
      await finish(runs[0], deadline);
    } finally {
      await cleanup(runs, dir);
    }
  });

  Deno.test(`restore keeps the virtual IDs and contents of ${prog}'s objects`, async () => {
    const deadline = Date.now() + TIME_LIMIT_MS;
    const dir = await Deno.makeTempDir({ prefix: "amber-sysv-" });
    const runs: Run[] = [];
    try {
      const first = await start(dir, prog, "frozen");
      runs.push(first);
      const before = ids(await ready(first, deadline));
      const system = new Map<string, number>();
      for (const r of first.app.tables()) if (isIpc(r.kind)) system.set(`${r.kind}${r.vid}`, r.sid);
      const image = await first.app.snapshot({ dir: join(dir, "image"), stop: true });

      const output = join(dir, "restored.out");
      const app = await restore(image, { name: `${first.app.name}-r`, output });
      const again: Run = { app, output, go: first.go, objects: new Set() };
      runs.push(again);
      remember(again);
      for (const [kind, vid] of Object.entries(before)) {
        assert.ok(isIpc(kind));
        const sid = await checkVirtual(again, kind, vid);
        assert.notEqual(sid, system.get(`${kind}${vid}`), `${kind} ${vid} has a new system ID`);
      }
      await finish(again, deadline);
    } finally {
      await cleanup(runs, dir);
    }
  });
}
