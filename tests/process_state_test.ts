/**
 * Process and thread state the kernel keeps (oom_score_adj, the dumpable flag, no_new_privs,
 * personality, the parent-death signal), and what clone(2) lets processes share. Each program
 * sets the state, is snapshotted without stop and ended, restored, snapshotted again with stop
 * and restored again, and checks its own state from inside.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { prog, type Scenario, scenarioTest, sleep } from "./support.ts";

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

scenarioTest(
  "a process that became nobody and asked to be dumpable again stays dumpable, with its flags, twice",
  async (s) => {
    if (Deno.uid() !== 0) return; // it needs root to switch users
    await Deno.chmod(s.dir, 0o755); // nobody must still see `go`
    await twoCycles(s, [prog("proc_flags"), s.dir, "become-nobody"], "flags-nobody");
  },
);

scenarioTest(
  "processes sharing a descriptor table (CLONE_FILES) are refused by name, and run on",
  async (s) => {
    const app = await s.launch([prog("clone_sharing"), s.dir, "files"], "clone-files");
    await s.waitFor(/^ready$/m, "ready");
    await assert.rejects(
      app.snapshot({ dir: join(s.dir, "refused.amber") }),
      /(processes \d+ and \d+ share|it shares) one descriptor table/,
    );
    await s.pass();
  },
);

scenarioTest(
  "a child sharing its parent's working directory and umask (CLONE_FS) still shares them, twice",
  async (s) => {
    await twoCycles(s, [prog("clone_sharing"), s.dir, "fs"], "clone-fs");
  },
);

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

scenarioTest(
  "children a job-control parent stopped by SIGSTOP, SIGTSTP, SIGTTIN and SIGTTOU stay stopped and report the same stop signal, twice",
  async (s) => {
    await twoCycles(s, [prog("stop_signals"), s.dir], "stop-signals");
  },
);

scenarioTest(
  "a snapshot without stop leaves children stopped by job-control signals stopped, with their reports",
  async (s) => {
    const app = await s.launch([prog("stop_signals"), s.dir], "stop-signals-kept");
    await s.waitFor(/^ready$/m, "ready");
    await app.snapshot({ dir: join(s.dir, "kept.amber") });
    await s.pass();
  },
);

/** The process's state letter in /proc (R, S, T...), or "" once it is gone. */
async function stateOf(pid: number): Promise<string> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => "");
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
}

scenarioTest(
  "a SIGCONT sent as soon as a snapshot or a restore returns lets a process stopped at the snapshot go on, three rounds",
  async (s) => {
    let app = await s.launch([prog("counter"), "10"], "stopped-counter");
    await s.waitFor(/^count 3 /m, "count 3");
    const stop = async () => {
      const pid = app.processes()[0].pid;
      Deno.kill(pid, "SIGSTOP");
      for (let i = 0; i < 500 && (await stateOf(pid)) !== "T"; i++) await sleep(10);
      assert.equal(await stateOf(pid), "T", "the counter did not stop");
      const counts = [...(await s.text()).matchAll(/^count (\d+) /gm)].map((m) => Number(m[1]));
      return Math.max(...counts);
    };
    const goesOn = async (last: number) => {
      Deno.kill(app.processes()[0].pid, "SIGCONT"); // at once: it must not be lost
      await s.waitFor(new RegExp(`^count ${last + 1} `, "m"), `count ${last + 1}`);
    };
    for (let round = 0; round < 3; round++) {
      // Live: the snapshot wakes it to take part, and stops it again before it returns.
      let last = await stop();
      await app.snapshot({ dir: join(s.dir, `live-${round}.amber`) });
      assert.equal(await stateOf(app.processes()[0].pid), "T", "the live snapshot let it run");
      await goesOn(last);
      last = await stop();
      app = await s.restore(await s.freeze(app, `stopped-${round}`));
      await goesOn(last);
    }
  },
);
