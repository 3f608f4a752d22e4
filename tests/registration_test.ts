/**
 * Registration and virtual process IDs (issue 2): every process of an application, across
 * fork, exec and shell scripts, sees only virtual pids, which never equal a system pid.
 */

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { prog, scenarioTest } from "./support.ts";

const VPID_BASE = 4_200_000; // any pid from here up is virtual

function seenIds(text: string): Map<string, number> {
  return new Map([...text.matchAll(/^seen (\d+) (\w+)$/gm)].map((m) => [m[2], Number(m[1])]));
}

scenarioTest(
  "getpid, getppid, fork, waitpid and kill use virtual pids three deep and across exec",
  async (s) => {
    const app = await s.launch([prog("pid_tree"), s.dir], "pids");
    const text = await s.waitFor(/^PASS$/m, "PASS");
    const seen = seenIds(text);
    for (const [what, id] of seen) assert.ok(id >= VPID_BASE, `${what} is ${id}`);
    const supervisor = app.info().vpidBase; // the first pid of the application's own range
    assert.equal(
      seen.get("parent"),
      supervisor,
      "the root's parent is the supervisor, the app's init",
    );
    assert.equal(seen.get("session"), supervisor, "the session is the supervisor's");
    const rows = app.tables().filter((r) => r.kind === "pid");
    const system = new Set(rows.map((r) => r.sid));
    for (const [what, id] of seen) {
      assert.ok(!system.has(id), `${what} ${id} is one of the application's system pids`);
      assert.ok(!existsSync(`/proc/${id}`), `${what} ${id} is the pid of a process of the system`);
    }
    await Deno.writeTextFile(s.go, "");
  },
);

scenarioTest("every process a bash script starts is registered", async (s) => {
  const report = prog("pid_report");
  await s.launch(["bash", "-c", `${report}; ${report} | cat; (${report} &); wait`], "bash");
  const text = await s.waitFor(/(^report .*\n){3}/m, "three reports");
  const reports = [...text.matchAll(/^report pid (\d+) ppid (\d+)/gm)];
  assert.equal(reports.length, 3, text);
  for (const [, pid, ppid] of reports) {
    assert.ok(Number(pid) >= VPID_BASE && Number(ppid) >= VPID_BASE, `pid ${pid} ppid ${ppid}`);
  }
  assert.equal(new Set(reports.map((r) => r[1])).size, 3, "three distinct virtual pids");
});

scenarioTest("two applications have independent ID spaces, each its own range", async (s) => {
  const one = await s.launch([prog("counter"), "50"], "one");
  const two = await s.launch([prog("counter"), "50"], "two");
  const text = await s.waitFor(/(^count 2 pid \d+\n[^]*){2}/m, "two counters");
  const pids = new Set([...text.matchAll(/^count \d+ pid (\d+)$/gm)].map((m) => Number(m[1])));
  const first = [one, two].map((app) => app.info().vpidBase + 1).sort((x, y) => x - y);
  assert.deepEqual(
    [...pids].sort((x, y) => x - y),
    first,
    "each sees its own range's first virtual pid",
  );
  assert.notEqual(first[0], first[1], "two applications at once have the same pids");
});

scenarioTest("the virtual hostname replaces the real one", async (s) => {
  const { launch } = await import("../mod.ts");
  const app = await launch([prog("pid_report")], {
    name: s.name("host"),
    output: s.output,
    hostname: "app2",
  });
  await app.wait();
  assert.match(await s.text(), /host app2 node app2/);
});

Deno.test("a program not under Amber is unaffected by the library", async () => {
  const lib = new URL("../build/libamber.so", import.meta.url).pathname;
  const child = new Deno.Command(prog("pid_report"), {
    env: { LD_PRELOAD: lib },
    stdout: "piped",
  }).spawn();
  const { stdout } = await child.output();
  const text = new TextDecoder().decode(stdout);
  assert.match(text, new RegExp(`^report pid ${child.pid} ppid ${Deno.pid} `), text);
});

Deno.test("a process killed while it holds the table lock does not wedge the others", async () => {
  const dir = await Deno.makeTempDir({ prefix: "amber-lock-" });
  try {
    const out = await new Deno.Command(prog("table_lock"), { args: [dir], stdout: "piped" })
      .output();
    const text = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, text);
    assert.match(text, /^PASS$/m);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

scenarioTest(
  "processes that libc reaps by itself (system()) do not leave rows behind",
  async (s) => {
    const app = await s.launch([prog("system_calls"), s.dir], "system");
    await s.waitFor(/^ready$/m);
    const processRows = () => app.tables().filter((r) => r.kind === "pid" && (r.flags & 1) !== 0);
    for (let waited = 0; waited < 5000 && processRows().length > 1; waited += 100) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(processRows().length, 1, JSON.stringify(processRows()));
    await s.pass();
  },
);
