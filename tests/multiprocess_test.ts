/**
 * Snapshot and restore of applications of several processes: the tree, what its processes
 * share (pipes, shared memory, descriptions) and their relations come back as one.
 */

import assert from "node:assert/strict";
import { appDir } from "../src/paths.ts";
import type { App } from "../mod.ts";
import { prog, type Scenario, scenarioTest, sleep } from "./support.ts";

scenarioTest("a producer and a consumer joined by a pipe lose and repeat no byte", async (s) => {
  const image = await s.roundTrip([prog("pipe_stream"), s.dir], "pipe");
  assert.equal(image.manifest.processes.length, 2);
});

scenarioTest(
  "a pipe whose writer is still writing when its reader freezes loses no byte",
  async (s) => {
    await s.roundTrip([prog("pipe_stream"), s.dir, "trickle"], "trickle");
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
    await s.roundTrip([prog("prefork_shared"), s.dir], "prefork");
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
    const image = await s.roundTrip([prog("tree_after_restore"), s.dir], "tree");
    assert.equal(image.manifest.processes.length, 3);
  },
);

scenarioTest(
  "a process killed during a snapshot is left out of it, and the rest of the application runs on",
  async (s) => {
    const app = await s.launch([prog("prefork_shared"), s.dir], "victim");
    await s.waitFor(/^ready$/m);
    const [, worker] = app.processes().sort((a, b) => a.vpid - b.vpid);
    const snapshot = app.snapshot({ dir: `${s.dir}/image.amber`, timeoutMs: 10_000 });
    await sleep(5);
    Deno.kill(worker.pid, "SIGKILL");
    const image = await snapshot; // whenever the kill landed, the image holds the others
    const held = image.manifest.processes.map((p) => p.vpid);
    assert.ok(held.length === 3 || held.length === 4, `${held}`);
    assert.equal(held.length === 3, !held.includes(worker.vpid));
    const alive = app.processes().filter((p) => p.alive).length;
    assert.equal(alive, 3, "the parent and the two other workers still run");
    await app.kill();
    const again = await s.restore(image);
    assert.equal(again.processes().filter((p) => p.alive).length, held.length);
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

/** A daemon's log (DIR/daemon.log: its stdout is not the scenario's), once it matches. */
async function waitDaemonLog(s: Scenario, pattern: RegExp): Promise<string> {
  const read = () => Deno.readTextFile(`${s.dir}/daemon.log`).catch(() => "");
  for (let i = 0; i < 500 && !pattern.test(await read()); i++) await sleep(20);
  return await read();
}

scenarioTest(
  "a daemon (double fork, setsid, closes every descriptor) comes back an orphan, with its worker, in its leaderless session",
  async (s) => {
    const app = await s.launch([prog("daemon"), s.dir], "daemon");
    await waitDaemonLog(s, /ready/);
    const alive = app.processes().filter((p) => p.alive).length;
    assert.equal(alive, 2, "only the daemon and its worker are left");
    await s.restore(await s.freeze(app));
    await Deno.writeTextFile(s.go, "");
    assert.match(await waitDaemonLog(s, /PASS|FAIL/), /^PASS$/m);
  },
);

scenarioTest(
  "a parent and three children meet at SysV semaphore barriers and count in shared memory",
  async (s) => {
    const image = await s.roundTrip([prog("sem_barrier"), s.dir], "barrier");
    assert.equal(image.manifest.processes.length, 4);
  },
);

scenarioTest(
  "children that exited unreaped come back as zombies, with their status, for their parent",
  async (s) => {
    const image = await s.roundTrip([prog("zombies"), s.dir], "zombies");
    assert.equal(image.manifest.processes.length, 1, "zombies are not frozen processes");
  },
);

scenarioTest(
  "SEM_UNDO adjustments survive a restore: a child's exit gives back what it took",
  async (s) => {
    await s.roundTrip([prog("sem_undo"), s.dir], "undo");
  },
);

scenarioTest(
  "ten snapshots in a row of a parent whose children exit all the time all succeed, and each restores",
  async (s) => {
    const app = await s.launch([prog("exiting_children"), s.dir], "exiting");
    await s.waitFor(/^ready$/m);
    const images = [];
    for (let i = 0; i < 10; i++) {
      images.push(await app.snapshot({ dir: `${s.dir}/image-${i}.amber`, stop: i === 9 }));
    }
    const passes = (n: number) => s.waitFor(new RegExp(`(?:^PASS$[^]*?){${n}}`, "m"), `${n} PASS`);
    for (const [i, image] of images.entries()) {
      const again = await s.restore(image);
      await Deno.writeTextFile(s.go, "");
      await passes(i + 1);
      assert.equal((await again.wait()).code, 0);
      await Deno.remove(s.go);
    }
    // A second cycle: the restored application's own snapshot, with and without stop.
    const again = await s.restore(images[0]);
    await again.snapshot({ dir: `${s.dir}/second-run.amber` });
    const second = await again.snapshot({ dir: `${s.dir}/second.amber`, stop: true });
    await s.restore(second);
    await Deno.writeTextFile(s.go, "");
    await passes(11);
  },
  120_000,
);

scenarioTest(
  "a child forked while its parent is in a checkpoint takes part in the next snapshots as a process of its own",
  async (s) => {
    // Each fork waits 50 ms with the checkpoint signal held off (read by the library as the
    // program starts): a checkpoint that begins in the main thread meanwhile is under way in
    // the memory the child is made from.
    Deno.env.set("AMBER_TEST_FORK_DELAY_MS", "50");
    let app;
    try {
      app = await s.launch([prog("fork_in_checkpoint"), s.dir], "forker");
    } finally {
      Deno.env.delete("AMBER_TEST_FORK_DELAY_MS");
    }
    await s.waitFor(/^ready$/m);
    let last;
    for (let i = 0; i < 6; i++) {
      last = await app.snapshot({ dir: `${s.dir}/image-${i}.amber`, stop: i === 5 });
    }
    await s.restore(last!);
    await Deno.writeTextFile(s.go, "");
    await s.pass();
  },
  120_000,
);

scenarioTest(
  "a restored bash exports, forks and execs under its new name: its children find their application",
  async (s) => {
    // bash frees the strings of the environment it exports when it rebuilds it (`export`), and
    // gives its children its own copies of the variables, not `environ`.
    const script = `echo ready; while [ ! -e "$0/go" ]; do sleep 0.02; done
      export LATE=1; /bin/true && echo "true ran"; x=$(echo substituted); echo "$x"
      sh -c 'echo "child in $AMBER_APP_DIR"'; echo PASS`;
    const app = await s.launch(["bash", "-c", script, s.dir], "sh");
    await s.waitFor(/^ready$/m);
    const image = await s.freeze(app);
    const restored = await s.restore(image); // under a longer name than the original's
    const text = await s.pass();
    assert.match(text, /^true ran$/m);
    assert.match(text, /^substituted$/m);
    assert.match(text, new RegExp(`^child in ${appDir(restored.name)}$`, "m"));
  },
);

/** The state letter of /proc/<pid>/stat ("T" for stopped). */
async function procState(pid: number): Promise<string> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  return stat.slice(stat.lastIndexOf(")") + 2)[0];
}

/** The states of an application's processes but its first; a moment to settle into "T". */
async function childStates(app: App): Promise<string[]> {
  const children = app.processes().filter((p) => p.alive).sort((a, b) => a.vpid - b.vpid).slice(1);
  let states: string[] = [];
  for (let i = 0; i < 50; i++) {
    states = await Promise.all(children.map((p) => procState(p.pid)));
    if (states.every((state) => state === "T")) break;
    await sleep(10);
  }
  return states;
}

scenarioTest(
  "stopped processes (SIGSTOP) are saved stopped, stay stopped, and SIGCONT continues them after restore",
  async (s) => {
    const app = await s.launch([prog("stopped_children"), s.dir], "stopped");
    await s.waitFor(/^ready$/m);
    assert.deepEqual(await childStates(app), ["T", "T"]);
    await app.snapshot({ dir: `${s.dir}/running.amber`, timeoutMs: 5_000 });
    assert.deepEqual(await childStates(app), ["T", "T"], "stopped again once the snapshot is over");
    const again = await s.restore(await s.freeze(app));
    assert.deepEqual(await childStates(again), ["T", "T"], "restored stopped");
    await again.snapshot({ dir: `${s.dir}/second-running.amber`, timeoutMs: 5_000 });
    const third = await s.restore(await s.freeze(again, "second"));
    assert.deepEqual(await childStates(third), ["T", "T"], "stopped after a second cycle");
    await s.pass();
  },
);

/** "State" and "Threads" of /proc/<pid>/status, e.g. "Z 3" for a main thread gone, two run on. */
async function mainThread(app: App): Promise<string> {
  const [root] = app.processes().filter((p) => p.alive);
  const status = await Deno.readTextFile(`/proc/${root.pid}/status`);
  return `${/^State:\s+(\S)/m.exec(status)?.[1]} ${/^Threads:\s+(\d+)/m.exec(status)?.[1]}`;
}

scenarioTest(
  "a process whose main thread called pthread_exit is saved, and comes back with it gone and the others running",
  async (s) => {
    const app = await s.launch([prog("main_thread_exit"), s.dir], "mainexit");
    await s.waitFor(/^ready$/m);
    assert.equal(await mainThread(app), "Z 3");
    await app.snapshot({ dir: `${s.dir}/running.amber` });
    const again = await s.restore(await s.freeze(app));
    assert.equal(await mainThread(again), "Z 3", "the main thread exits again");
    await again.snapshot({ dir: `${s.dir}/second-running.amber` });
    await s.restore(await s.freeze(again, "second"));
    await s.pass();
  },
);

scenarioTest(
  "a program that daemonizes with daemon(3) stays in its application: saved, restored, ended by kill",
  async (s) => {
    const app = await s.launch([prog("daemon3"), s.dir], "daemon3");
    await waitDaemonLog(s, /ready/);
    const alive = () => app.processes().filter((p) => p.alive);
    const daemonVpid = app.info().vpidBase + 2; // after the supervisor and the root that forked it
    assert.deepEqual(alive().map((p) => p.vpid), [daemonVpid], "only the daemon, with its own pid");
    const running = await app.snapshot({ dir: `${s.dir}/running.amber` });
    assert.deepEqual(running.manifest.processes.map((p) => p.vpid), [daemonVpid]);
    const again = await s.restore(await s.freeze(app));
    await again.snapshot({ dir: `${s.dir}/second-running.amber` });
    await s.restore(await s.freeze(again, "second"));
    const spare = await s.restore(running);
    const [daemon] = spare.processes().filter((p) => p.alive);
    await spare.kill();
    assert.equal(await Deno.stat(`/proc/${daemon.pid}`).then(() => true, () => false), false);
    await Deno.writeTextFile(s.go, "");
    assert.match(await waitDaemonLog(s, /PASS|FAIL/), /^PASS$/m);
  },
);

scenarioTest(
  "a snapshot taken the moment a program is launched holds it, and it runs on",
  async (s) => {
    for (let i = 0; i < 20; i++) {
      const app = await s.launch(["sleep", "60"], "early");
      const image = await app.snapshot({ dir: `${s.dir}/early-${i}.amber` });
      assert.equal(image.manifest.processes.length, 1);
      assert.equal(app.processes().filter((p) => p.alive).length, 1, "the program runs on");
      await app.kill();
    }
  },
);
