/**
 * Every failure of the API is an AmberError with a machine-readable reason, and every command
 * that prints takes --json, which puts its errors on stderr as JSON with the usual exit status.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { AmberError, ControlError, inspect, open, RestoreError, SnapshotError } from "../mod.ts";
import { fileHash, Table } from "../ffi/control.ts";
import { appDir, TABLES_FILE } from "../src/paths.ts";
import { amber } from "./cli_support.ts";
import { prog, type Scenario, scenarioTest, sleep } from "./support.ts";

async function reasonOf(work: Promise<unknown>): Promise<string> {
  const error = await work.then(() => null, (e) => e);
  assert.ok(error instanceof AmberError, `an AmberError, not ${error}`);
  return error.reason;
}

/** Runs `amber ARGS... --json` and returns its exit status, parsed stdout and parsed stderr. */
async function json(s: Scenario, ...args: string[]) {
  const out = await amber(s, ...args);
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes).trim();
  const parse = (t: string) => (t ? JSON.parse(t) : null);
  return { code: out.code, stdout: parse(text(out.stdout)), stderr: parse(text(out.stderr)) };
}

scenarioTest("the API's failures carry a reason", async (s) => {
  assert.equal(await reasonOf(open("no-such-app")), "app-not-found");
  assert.equal(await reasonOf(inspect(join(s.dir, "missing.amber"))), "image-invalid");
  const native = await Promise.resolve().then(() => fileHash(join(s.dir, "nothing"))).catch((e) =>
    e
  );
  assert.ok(native instanceof ControlError && native instanceof AmberError);
  assert.equal(native.reason, "native");

  const app = await s.launch([prog("counter"), "50"], "reasons");
  await s.waitFor(/^count 1 /m);
  const hook = () => {
    throw new Error("no");
  };
  assert.equal(
    await reasonOf(app.snapshot({ dir: join(s.dir, "a.amber"), beforeFreeze: hook })),
    "hook-failed",
  );
  const aborted = AbortSignal.abort(new Error("stop"));
  const error = await app.snapshot({ dir: join(s.dir, "b.amber"), signal: aborted }).catch((e) =>
    e
  );
  assert.ok(error instanceof SnapshotError);
  assert.equal(error.reason, "interrupted");
  const image = await app.snapshot({ dir: join(s.dir, "c.amber") });
  const process = join(image.dir, image.manifest.processes[0].file);
  const bytes = await Deno.readFile(process);
  bytes[bytes.length - 1] ^= 0xff;
  await Deno.writeFile(process, bytes);
  assert.equal(await reasonOf(inspect(image.dir)), "image-damaged");
  assert.deepEqual(JSON.parse(JSON.stringify(error)), {
    name: "SnapshotError",
    reason: "interrupted",
    message: error.message,
  });
});

scenarioTest("--json on every printing command, errors as JSON on stderr", async (s) => {
  const notFound = await json(s, "kill", "no-such-app", "--json");
  assert.equal(notFound.code, 1);
  assert.equal(notFound.stdout, null);
  assert.deepEqual(notFound.stderr.error, {
    name: "AppNotFoundError",
    reason: "app-not-found",
    message: "No application named 'no-such-app'",
  });
  const usage = await json(s, "snapshot", "some-app", "--keep", "2", "--json");
  assert.equal(usage.code, 2);
  assert.equal(usage.stderr.error.reason, "usage");
  const unknown = await json(s, "inspect", "--frobnicate", "--json");
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr.error.message, /unknown option '--frobnicate'/);
  const image = await json(s, "restore", "missing.amber", "--json");
  assert.equal(image.code, 1);
  assert.equal(image.stderr.error.reason, "image-invalid");

  const name = s.name("json");
  const run = await json(s, "run", "--detach", "--json", "--name", name, "--", prog("counter"));
  assert.equal(run.code, 0, JSON.stringify(run.stderr));
  assert.equal(run.stdout.name, name);
  assert.equal(run.stdout.processes.length, 1);
  const ps = await json(s, "ps", "--json");
  assert.ok(ps.stdout.some((app: { name: string }) => app.name === name));
  const snap = await json(s, "snapshot", name, "-o", "x.amber", "--json");
  assert.equal(snap.stdout.stats.processes, 1);
  const again = await json(s, "snapshot", name, "-o", "x.amber", "--json");
  assert.equal(again.code, 1);
  assert.equal(again.stderr.error.name, "SnapshotError");
  const killed = await json(s, "kill", name, "--json");
  assert.deepEqual(killed.stdout, { name, ended: true });
  const restored = await json(s, "restore", "x.amber", "--detach", "--json", "--name", name);
  assert.equal(restored.code, 0, JSON.stringify(restored.stderr));
  assert.equal(restored.stdout[0].name, name);
  assert.equal((await json(s, "kill", name, "--json")).code, 0);
  const inspected = await json(s, "inspect", "x.amber", "--json");
  assert.equal(inspected.stdout.verified, true);
});

/** The system pid the restore of `name` gave process `vpid`, as soon as its row has it. */
async function restoringPid(name: string, vpid: number): Promise<number> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    try {
      using table = Table.open(join(appDir(name), TABLES_FILE));
      const row = table.rows().find((r) => r.kind === "pid" && r.vid === vpid && r.sid > 0);
      if (row) return row.sid;
    } catch {
      // not made yet
    }
    await sleep(1);
  }
  throw new Error(`process ${vpid} of '${name}' got no system pid in 20 s`);
}

/**
 * big_child with `args` holds 400 MiB in one process, which a restore reads back for a while:
 * that process (the root, or the child) is killed meanwhile, and the failed restore names it with
 * its signal.
 */
async function killedMidRestore(s: Scenario, args: string[], which: "root" | "child") {
  const app = await s.launch([prog("big_child"), "400", ...args], `big-${which}`);
  await s.waitFor(/^ready$/m, "ready");
  const processes = app.processes();
  const isChild = (p: { parent: number }) => processes.some((q) => q.vpid === p.parent);
  const victim = processes.find((p) => which === "child" ? isChild(p) : !isChild(p));
  assert.ok(victim, `the ${which}`);
  const image = await s.freeze(app);
  const name = s.name(`killed-${which}`);
  const restoring = s.restore(image, { name });
  Deno.kill(await restoringPid(name, victim.vpid), "SIGKILL");
  await assert.rejects(
    restoring,
    (e) =>
      e instanceof RestoreError &&
      new RegExp(
        `process ${victim.vpid} \\(system pid \\d+\\) was killed by SIGKILL before ` +
          `its restore was over`,
      ).test(e.message),
  );
}

scenarioTest(
  "the root process killed while it is being restored is named with its signal by the failed restore, though the supervisor reaps it",
  (s) => killedMidRestore(s, ["root"], "root"),
);

scenarioTest(
  "a process killed while it is being restored is named with its signal by the failed restore",
  (s) => killedMidRestore(s, [], "child"),
);
