/**
 * Process and thread state the kernel keeps (oom_score_adj, the dumpable flag, no_new_privs,
 * personality, the parent-death signal), and what clone(2) lets processes share. Each program
 * sets the state, is snapshotted without stop and ended, restored, snapshotted again with stop
 * and restored again, and checks its own state from inside.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { prog, type Scenario, scenarioTest } from "./support.ts";

/** A snapshot without stop, the original ended, a restore; the same with stop; then go. */
async function twoCycles(s: Scenario, argv: string[], tag: string): Promise<void> {
  const app = await s.launch(argv, tag);
  await s.waitFor(/^ready$/m, "ready");
  const first = await app.snapshot({ dir: join(s.dir, `${tag}-1.amber`) });
  await app.kill();
  const again = await s.restore(first);
  await s.restore(await s.freeze(again, `${tag}-2`));
  await s.pass();
}

scenarioTest(
  "oom_score_adj, dumpable, and each thread's no_new_privs, personality and parent-death signal come back, twice",
  async (s) => {
    await twoCycles(s, [prog("proc_flags"), s.dir], "flags");
  },
);

for (const kind of ["files", "fs"]) {
  scenarioTest(
    `processes sharing ${
      kind === "files" ? "a descriptor table (CLONE_FILES)" : "cwd and umask (CLONE_FS)"
    } are refused by name, and run on`,
    async (s) => {
      const app = await s.launch([prog("clone_sharing"), s.dir, kind], `clone-${kind}`);
      await s.waitFor(/^ready$/m, "ready");
      const what = kind === "files" ? /share one descriptor table/ : /share one working directory/;
      await assert.rejects(app.snapshot({ dir: join(s.dir, "refused.amber") }), (e: Error) => {
        assert.match(e.message, what);
        assert.match(e.message, /processes \d+ and \d+/);
        return true;
      });
      await s.pass();
    },
  );
}

scenarioTest(
  "stop and continued reports a parent had or had not collected, and a zombie, come back exactly, twice",
  async (s) => {
    await twoCycles(s, [prog("wait_reports"), s.dir], "reports");
  },
);

scenarioTest(
  "a snapshot without stop leaves a parent's uncollected and collected wait reports as they were",
  async (s) => {
    const app = await s.launch([prog("wait_reports"), s.dir], "reports-kept");
    await s.waitFor(/^ready$/m, "ready");
    await app.snapshot({ dir: join(s.dir, "kept.amber") });
    await s.pass();
  },
);
