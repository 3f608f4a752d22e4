/**
 * Threads that never run a signal handler: they block every signal with the raw system call,
 * as Go's runtime does in its signal thread. The coordinator lets Amber's signal in to them
 * with ptrace, and each keeps its own mask. A C program with two such threads, a Go program with
 * many goroutines and timers, and etcd (Debian's etcd-server, with etcdctl from etcd-client)
 * snapshot and restore, twice over, and also snapshot without stopping.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { resumeHeld } from "../src/migrate/hold.ts";
import { prog, scenarioTest, sleep } from "./support.ts";

const LIMIT_MS = 120_000;
const decoder = new TextDecoder();

/** A program that says "ready": a snapshot without stop, two cycles, and its verdict. */
function cyclesTest(name: string, program: string, tag: string, seccomp?: "on" | "off"): void {
  scenarioTest(name, (s) => s.cycles([prog(program), s.dir], tag, seccomp), LIMIT_MS);
}

cyclesTest(
  "threads that block every signal behind the library's back are stopped from outside and keep their masks",
  "deaf_threads",
  "deaf",
);

cyclesTest(
  "without the seccomp layer, threads that block every signal with syscall() are seized and keep their masks",
  "deaf_threads",
  "deafoff",
  "off",
);

cyclesTest(
  "threads that block every signal unseen by the library and its seccomp layer are seized and resume their calls without EINTR",
  "seized_threads",
  "seized",
);

cyclesTest(
  "a seized thread keeps its own personality, no_new_privs, parent-death signal and GS base, and a thread that takes the signal its GS base",
  "seized_flags",
  "seizedflags",
);

scenarioTest(
  "seized threads of an application that a held snapshot left frozen go on once it is let go",
  async (s) => {
    const app = await s.launch([prog("seized_threads"), s.dir], "seizedheld");
    await s.waitFor(/^ready$/m, "ready");
    await app.snapshot({ dir: join(s.dir, "held.amber"), hold: true });
    resumeHeld(app); // through tables mapped anew: the threads are found by application
    await s.pass();
  },
  LIMIT_MS,
);

cyclesTest(
  "a process none of whose threads can take the signal is let in through its main thread",
  "deaf_process",
  "deafproc",
);

cyclesTest(
  "a Go program's exec'd children have virtual pids it reads their /proc files, signals and waits by, after restores",
  "go_children",
  "gochildren",
);

cyclesTest(
  "a Go program with many goroutines, timers and a signal.Notify channel carries on after restores",
  "go_timers",
  "gotimers",
);

cyclesTest(
  "threads whose alternate signal stacks are too small for the agent (6 KiB) carry on, and nothing below those stacks is written",
  "small_altstack",
  "smallalt",
);

scenarioTest(
  "a Go program linked as most are (libc only for package net) keeps its goroutines' stacks intact through live snapshots and restores",
  async (s) => {
    const app = await s.launch([prog("go_stacks"), s.dir], "gostacks");
    await s.waitFor(/^ready$/m, "ready");
    // Each snapshot signals every thread, mostly while it runs a goroutine on a stack of a few KiB.
    for (let i = 0; i < 8; i++) await app.snapshot({ dir: join(s.dir, `live${i}.amber`) });
    const once = await s.restore(await s.freeze(app, "first"));
    await s.restore(await s.freeze(once, "second"));
    await s.pass();
  },
  LIMIT_MS,
);

scenarioTest(
  "a Go program sends SCM_CREDENTIALS naming os.Getpid() with WriteMsgUnix, as godbus authenticates, without SO_PASSCRED, and its peer reads that pid, after a restore and a second",
  (s) => s.checkedCycles([prog("go_creds"), s.dir], "gocreds"),
  LIMIT_MS,
);

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** etcdctl's output, run outside the application with a time limit; fails on a non-zero exit. */
async function etcdctl(port: number, ...args: string[]): Promise<string> {
  const run = await new Deno.Command("etcdctl", {
    args: ["--endpoints", `127.0.0.1:${port}`, "--command-timeout=3s", ...args],
    env: { ETCDCTL_API: "3" },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(10_000),
  }).output();
  const out = decoder.decode(run.stdout);
  assert.equal(run.code, 0, `etcdctl ${args.join(" ")}: ${decoder.decode(run.stderr)}${out}`);
  return out;
}

async function answering(port: number): Promise<void> {
  for (let i = 0; i < 150; i++) {
    if (await etcdctl(port, "endpoint", "health").then(() => true, () => false)) return;
    await sleep(100);
  }
  assert.fail(`etcd on port ${port} did not answer in time`);
}

scenarioTest(
  "etcd keeps the keys written before the snapshot and accepts new writes after restores",
  async (s) => {
    const client = freePort(), peer = freePort();
    const app = await s.launch([
      "etcd",
      "--name",
      "amber",
      "--data-dir",
      join(s.dir, "etcd"),
      "--listen-client-urls",
      `http://127.0.0.1:${client}`,
      "--advertise-client-urls",
      `http://127.0.0.1:${client}`,
      "--listen-peer-urls",
      `http://127.0.0.1:${peer}`,
      "--initial-advertise-peer-urls",
      `http://127.0.0.1:${peer}`,
      "--initial-cluster",
      `amber=http://127.0.0.1:${peer}`,
    ], "etcd");
    await answering(client);
    assert.equal(await etcdctl(client, "put", "before", "snapshot"), "OK\n");
    await app.snapshot({ dir: join(s.dir, "live.amber") });
    assert.equal(await etcdctl(client, "put", "live", "on"), "OK\n");
    const once = await s.restore(await s.freeze(app, "first"));
    await answering(client);
    assert.equal(await etcdctl(client, "get", "before"), "before\nsnapshot\n");
    assert.equal(await etcdctl(client, "put", "after", "restore"), "OK\n");
    await s.restore(await s.freeze(once, "second"));
    await answering(client);
    assert.equal(await etcdctl(client, "get", "before"), "before\nsnapshot\n");
    assert.equal(await etcdctl(client, "get", "live"), "live\non\n");
    assert.equal(await etcdctl(client, "get", "after"), "after\nrestore\n");
    assert.equal(await etcdctl(client, "put", "again", "yes"), "OK\n");
    assert.equal(await etcdctl(client, "get", "again"), "again\nyes\n");
  },
  LIMIT_MS,
);

scenarioTest(
  "a Go library that python3 loads with ctypes sees python3's virtual pid in its runtime's raw calls (os.Getpid, a signal, /proc/<pid>/status), after a restore and a second",
  (s) => {
    const script = new URL("./progs/py_go_lib.py", import.meta.url).pathname;
    return s.checkedCycles(["python3", script, prog("libgopid.so"), s.dir], "py-go-lib");
  },
  LIMIT_MS,
);
