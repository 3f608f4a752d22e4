/**
 * ptrace inside an application names processes by virtual pid, before and after a restore; a
 * traced process is refused by the snapshot, naming its tracer.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { SnapshotError } from "../mod.ts";
import { prog, scenarioTest } from "./support.ts";

scenarioTest(
  "a tracer in the application names its tracee by virtual pid, and a traced process is not snapshotted",
  async (s) => {
    const app = await s.launch([prog("tracer"), s.dir], "tracer");
    await s.waitFor(/^traced$/m);
    await assert.rejects(
      () => app.snapshot({ dir: join(s.dir, "refused.amber"), stop: true }),
      (e) =>
        e instanceof SnapshotError &&
        e.message.includes(`traced (ptrace) by its own process ${app.info().vpidBase + 1}`),
    );
    assert.equal(app.processes().filter((p) => p.alive).length, 2, "the application runs on");
    await Deno.writeTextFile(join(s.dir, "untrace"), "");
    await s.waitFor(/^ready$/m);
    await s.restore(await s.freeze(app));
    await s.pass();
  },
);
