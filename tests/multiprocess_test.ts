/**
 * Snapshot and restore of applications of several processes: the tree, what its processes
 * share (pipes, shared memory, descriptions) and their relations come back as one.
 */

import assert from "node:assert/strict";
import { prog, scenarioTest, sleep } from "./support.ts";

scenarioTest("a producer and a consumer joined by a pipe lose and repeat no byte", async (s) => {
  const app = await s.launch([prog("pipe_stream"), s.dir], "pipe");
  await s.waitFor(/^ready$/m);
  const image = await s.freeze(app);
  assert.equal(image.manifest.processes.length, 2);
  await s.restore(image);
  await s.pass();
});

scenarioTest(
  "a pipe whose writer is still writing when its reader freezes loses no byte",
  async (s) => {
    const app = await s.launch([prog("pipe_stream"), s.dir, "trickle"], "trickle");
    await s.waitFor(/^ready$/m);
    await s.restore(await s.freeze(app));
    await s.pass();
  },
);

scenarioTest(
  "a parent waits for children that exit after the restore, by virtual pid",
  async (s) => {
    const app = await s.launch([prog("wait_children"), s.dir], "wait");
    await s.waitFor(/^ready$/m);
    const pids = app.processes().map((p) => p.vpid).sort();
    const image = await s.freeze(app);
    const again = await s.restore(image);
    assert.deepEqual(again.processes().map((p) => p.vpid).sort(), pids, "the same virtual pids");
    await s.pass();
  },
);

scenarioTest(
  "pre-forked workers still share MAP_SHARED anonymous memory with their parent",
  async (s) => {
    const app = await s.launch([prog("prefork_shared"), s.dir], "prefork");
    await s.waitFor(/^ready$/m);
    await s.restore(await s.freeze(app));
    await s.pass();
  },
);

scenarioTest("bash -c 'producer | filter | consumer' comes back as one pipeline", async (s) => {
  const line = `${prog("seqgen")} 300000 | cat | ${prog("seqcheck")} ${s.dir} 300000`;
  const app = await s.launch(["bash", "-c", line], "pipeline");
  await s.waitFor(/^ready$/m);
  assert.equal(app.processes().length, 4, "bash and the three commands are registered");
  await s.restore(await s.freeze(app));
  await s.pass();
});

scenarioTest(
  "after restore a group signal reaches its processes, a shared offset stays shared, and a new child execs under Amber",
  async (s) => {
    const app = await s.launch([prog("tree_after_restore"), s.dir], "tree");
    await s.waitFor(/^ready$/m);
    const image = await s.freeze(app);
    assert.equal(image.manifest.processes.length, 3);
    await s.restore(image);
    await s.pass();
  },
);

scenarioTest(
  "a process killed during a snapshot: the snapshot is taken again without it, and the rest of the application runs on",
  async (s) => {
    const app = await s.launch([prog("prefork_shared"), s.dir], "victim");
    await s.waitFor(/^ready$/m);
    const [, worker] = app.processes().sort((a, b) => a.vpid - b.vpid);
    Deno.kill(worker.pid, "SIGSTOP"); // it cannot take part in the snapshot...
    const snapshot = app.snapshot({ dir: `${s.dir}/image.amber`, timeoutMs: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    Deno.kill(worker.pid, "SIGKILL"); // ...and then it is gone
    const image = await snapshot;
    const saved = image.manifest.processes.map((p) => p.vpid);
    assert.equal(saved.length, 3, `saved ${saved}`);
    assert.ok(!saved.includes(worker.vpid), `the killed process ${worker.vpid} was saved`);
    const alive = app.processes().filter((p) => p.alive).length;
    assert.equal(alive, 3, "the parent and the two other workers still run");
  },
);

scenarioTest(
  "a parent blocked in waitpid for its child at snapshot time gets it after restore",
  async (s) => {
    const app = await s.launch([prog("blocked_wait"), s.dir], "blocked");
    await s.waitFor(/^ready$/m);
    await new Promise((resolve) => setTimeout(resolve, 100)); // into the wait
    await s.restore(await s.freeze(app));
    await s.pass();
  },
);

scenarioTest(
  "a daemon (double fork, setsid, closes every descriptor) comes back an orphan, with its worker, in its leaderless session",
  async (s) => {
    const app = await s.launch([prog("daemon"), s.dir], "daemon");
    const log = `${s.dir}/daemon.log`;
    const readLog = () => Deno.readTextFile(log).catch(() => "");
    for (let i = 0; i < 500 && !(await readLog()).includes("ready"); i++) await sleep(20);
    const alive = app.processes().filter((p) => p.alive).length;
    assert.equal(alive, 2, "only the daemon and its worker are left");
    await s.restore(await s.freeze(app));
    await Deno.writeTextFile(s.go, "");
    for (let i = 0; i < 500 && !/PASS|FAIL/.test(await readLog()); i++) await sleep(20);
    assert.match(await readLog(), /^PASS$/m, await readLog());
  },
);

scenarioTest(
  "a parent and three children meet at SysV semaphore barriers and count in shared memory",
  async (s) => {
    const app = await s.launch([prog("sem_barrier"), s.dir], "barrier");
    await s.waitFor(/^ready$/m);
    const image = await s.freeze(app);
    assert.equal(image.manifest.processes.length, 4);
    await s.restore(image);
    await s.pass();
  },
);

scenarioTest(
  "children that exited unreaped come back as zombies, with their status, for their parent",
  async (s) => {
    const app = await s.launch([prog("zombies"), s.dir], "zombies");
    await s.waitFor(/^ready$/m);
    const image = await s.freeze(app);
    assert.equal(image.manifest.processes.length, 1, "zombies are not frozen processes");
    await s.restore(image);
    await s.pass();
  },
);

scenarioTest(
  "SEM_UNDO adjustments survive a restore: a child's exit gives back what it took",
  async (s) => {
    const app = await s.launch([prog("sem_undo"), s.dir], "undo");
    await s.waitFor(/^ready$/m);
    await s.restore(await s.freeze(app));
    await s.pass();
  },
);
