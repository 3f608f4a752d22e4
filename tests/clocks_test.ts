/**
 * CLOCK_MONOTONIC and CLOCK_BOOTTIME go on from where they were after a restore on a computer
 * that has been up for less time (a migration to a freshly booted one): here the restore runs in
 * a time namespace whose clocks read a few seconds (`unshare --time`), and the program, which
 * reads them every 10 ms, must never see them go back (restorer/clocks.c). The restored
 * application, in a time namespace of its own, snapshots again and comes back in the test's.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { open } from "../mod.ts";
import { CLI, run } from "./cli_run.ts";
import { prog, scenarioTest } from "./support.ts";

scenarioTest(
  "the monotonic and boot clocks do not go back when the restoring computer has been up for less time, and a second snapshot of the restored application keeps them going",
  async (s) => {
    const app = await s.launch([prog("clocks_on"), s.dir], "clocks");
    await s.waitFor(/^ready$/m);
    const image = await s.freeze(app);
    const uptime = Math.floor(Number((await Deno.readTextFile("/proc/uptime")).split(" ")[0]));
    assert.ok(uptime > 15, `this computer has been up ${uptime} s: too little to go back from`);
    const back = uptime - 5;
    const name = s.name("younger");
    const restore = await run("unshare", [
      "--time",
      `--monotonic=-${back}`,
      `--boottime=-${back}`,
      Deno.execPath(),
      ...["run", "-A", "--quiet", CLI, "restore", image.dir, "--name", name],
      ...["--output", s.output, "--detach"],
    ], { NO_COLOR: "1" });
    const restored = await open(name).catch(() => null);
    try {
      assert.equal(restore.code, 0, restore.stderr);
      await new Promise((resolve) => setTimeout(resolve, 300)); // it reads its clocks meanwhile
      const text = await s.text();
      assert.doesNotMatch(text, /^FAIL/m, text);
      assert.ok(restored, "the restored application is listed");
      const [root] = await restored.processes();
      const theirs = await Deno.readLink(`/proc/${root.pid}/ns/time`);
      assert.notEqual(theirs, await Deno.readLink("/proc/self/ns/time"), "a time namespace");
      const again = await restored.snapshot({ dir: join(s.dir, "again.amber"), stop: true });
      await s.restore(again);
      await s.pass();
    } finally {
      await restored?.kill().catch(() => {});
    }
  },
);
