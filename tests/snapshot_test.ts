/**
 * Snapshot and restore of one process, transparently: each program runs under Amber, is
 * snapshotted and killed, and checks its own state in the restored process.
 */

import assert from "node:assert/strict";
import { prog, scenarioTest, sleep } from "./support.ts";

function counts(text: string): number[] {
  return [...text.matchAll(/^count (\d+) pid (\d+)$/gm)].map((m) => Number(m[1]));
}

scenarioTest("a restored counter carries on from where it was frozen", async (s) => {
  const app = await s.launch([prog("counter"), "20"], "counter");
  await s.waitFor(/^count 5 /m);
  const image = await s.freeze(app);
  const before = counts(await s.text());
  await sleep(200);
  assert.deepEqual(counts(await s.text()), before, "the original still ran after --stop");
  await s.restore(image);
  await s.waitFor(new RegExp(`^count ${before.at(-1)! + 5} `, "m"));
  const all = counts(await s.text());
  assert.deepEqual(all, all.map((_, i) => i), "every count once, in order, none from 0 again");
  const pids = new Set([...(await s.text()).matchAll(/pid (\d+)$/gm)].map((m) => m[1]));
  assert.equal(pids.size, 1, "getpid() is the same virtual pid before and after");
});

scenarioTest("256 MiB of heap comes back byte for byte", async (s) => {
  await s.roundTrip([prog("heap_pattern"), s.dir, "256"], "heap");
});

scenarioTest(
  "threads blocked in read, nanosleep and a futex, and four contending on a mutex, carry on",
  async (s) => {
    await s.roundTrip([prog("threads_blocked"), s.dir], "threads");
  },
);

scenarioTest("one image restores twice, and a restored program snapshots again", async (s) => {
  const app = await s.launch([prog("counter"), "20"], "counter");
  await s.waitFor(/^count 3 /m);
  const image = await s.freeze(app, "first");
  const frozenAt = Math.max(...counts(await s.text())); // the original is gone: its last count
  const first = await s.restore(image);
  await s.waitFor(new RegExp(`^count ${frozenAt + 5} `, "m"));
  const second = await s.freeze(first, "second");
  const a = await s.restore(second);
  const b = await s.restore(image);
  await sleep(300);
  assert.equal(a.processes().length, 1);
  assert.equal(b.processes().length, 1);
  const text = await s.text();
  // The image of the restored program carries on past where it was; both restores of the first
  // image go on from where the original was frozen.
  assert.ok(Math.max(...counts(text)) > frozenAt + 5, text);
  assert.ok(counts(text).filter((n) => n === frozenAt + 1).length >= 2, text);
});

scenarioTest(
  "a file continues at its offset; /dev/null, an in-process pipe's bytes, cwd and umask come back",
  async (s) => {
    await s.roundTrip([prog("files_state"), s.dir], "files");
  },
);

scenarioTest(
  "signal handlers, the mask, the alternate stack and an interval timer survive",
  async (s) => {
    await s.roundTrip([prog("signals_state"), s.dir], "signals");
  },
);

scenarioTest("a python3 program keeps its in-memory state and its threads", async (s) => {
  const python = new Deno.Command("python3", { args: ["-c", "import sys; print(sys.executable)"] });
  const executable = new TextDecoder().decode((await python.output()).stdout).trim();
  const script = new URL("./progs/py_state.py", import.meta.url).pathname;
  await s.roundTrip([executable, script, s.dir], "python");
});

scenarioTest(
  "a privately mapped file comes back from the file, with the pages the program changed",
  async (s) => {
    const file = `${s.dir}/mapped.bin`;
    await Deno.writeTextFile(file, "a".repeat(4096) + "b".repeat(4096) + "c".repeat(4096));
    await s.roundTrip([prog("mapped_file"), s.dir, file], "mapped");
  },
);

scenarioTest(
  "a lazy restore maps memory from the image, and a snapshot of it stands on its own",
  async (s) => {
    const app = await s.launch([prog("heap_pattern"), s.dir, "64"], "lazy");
    await s.waitFor(/^ready$/m);
    const image = await s.freeze(app, "first");
    const lazy = await s.restore(image, { lazy: true });
    const second = await s.freeze(lazy, "second");
    await Deno.remove(image.dir, { recursive: true }); // the second image must not need the first
    await s.restore(second);
    await s.pass();
  },
);

scenarioTest(
  "a lazily restored program finds every byte of its memory, pages of the parent image included",
  async (s) => {
    const app = await s.launch([prog("heap_pattern"), s.dir, "64", "go-twice"], "lazy-exact");
    await s.waitFor(/^ready$/m);
    const full = await app.snapshot({ dir: `${s.dir}/full.amber` });
    // The 64 MiB are one run of pages (nruns, at byte 28 of the header): one mapping each.
    using file = await Deno.open(`${full.dir}/${full.manifest.processes[0].file}`);
    const header = new Uint8Array(32);
    await file.read(header);
    const runs = new DataView(header.buffer).getInt32(28, true);
    assert.ok(runs < 64, `${runs} runs of pages for a program with a few regions`);
    await Deno.writeTextFile(`${s.dir}/change`, ""); // the program changes 1 MiB and says so
    await s.waitFor(/^changed$/m);
    const delta = await app.snapshot({ dir: `${s.dir}/delta.amber`, parent: full, stop: true });
    const lazy = await s.restore(delta, { lazy: true });
    await sleep(1000); // the supervisor's check of the mapped pages finds nothing wrong
    assert.equal(lazy.processes().length, 1, "the lazily restored program still runs");
    await s.pass(); // every word of the 64 MiB, and its checksum
  },
);

scenarioTest(
  "an incremental image holds only the pages that changed since its parent, and restores whole",
  async (s) => {
    const app = await s.launch([prog("heap_pattern"), s.dir, "64", "go-twice"], "incremental");
    await s.waitFor(/^ready$/m);
    const full = await app.snapshot({ dir: `${s.dir}/full.amber` });
    await Deno.writeTextFile(`${s.dir}/change`, ""); // the program changes 1 MiB and says so
    await s.waitFor(/^changed$/m);
    const delta = await app.snapshot({ dir: `${s.dir}/delta.amber`, parent: full, stop: true });
    const bytes = (image: typeof full) => image.manifest.files.reduce((n, f) => n + f.size, 0);
    assert.ok(
      bytes(delta) < bytes(full) / 4,
      `the delta is ${bytes(delta)} bytes, the full ${bytes(full)}`,
    );
    await s.restore(delta);
    await s.pass();
  },
);

scenarioTest(
  "an incremental image whose parent is gone or changed is refused, naming the parent",
  async (s) => {
    const app = await s.launch([prog("counter"), "20"], "orphan-delta");
    await s.waitFor(/^count 2 /m);
    const full = await app.snapshot({ dir: `${s.dir}/full.amber` });
    const delta = await app.snapshot({ dir: `${s.dir}/delta.amber`, parent: full, stop: true });
    await Deno.writeTextFile(
      `${full.dir}/manifest.json`,
      (await Deno.readTextFile(`${full.dir}/manifest.json`)) + " ",
    );
    await assert.rejects(s.restore(delta), /full\.amber.*changed/);
    await Deno.remove(full.dir, { recursive: true });
    await assert.rejects(s.restore(delta), /full\.amber.*missing/);
  },
);

scenarioTest(
  "signals pending at the snapshot are pending after the restore, with their data",
  async (s) => {
    await s.roundTrip([prog("pending_signals"), s.dir], "pending");
  },
);

scenarioTest(
  "limits, nice value, affinity, parent-death signal and the user it became come back",
  async (s) => {
    await Deno.chmod(s.dir, 0o755); // the program may become nobody, who must still see `go`
    await s.roundTrip([prog("identity"), s.dir, "become-nobody"], "identity");
  },
);

scenarioTest(
  "POSIX timers keep their IDs and go on firing: by signal, by thread, silently",
  async (s) => {
    await s.roundTrip([prog("posix_timer"), s.dir], "timer");
  },
);

scenarioTest(
  "a SIGEV_THREAD timer's function goes on being called after a restore",
  async (s) => {
    await s.roundTrip([prog("posix_timer"), s.dir, "sigev-thread"], "thread-timer");
  },
);

scenarioTest(
  "ten snapshots of busy threads, taken while they run, are invisible to them",
  async (s) => {
    const app = await s.launch([prog("busy_threads"), s.dir], "busy");
    await s.waitFor(/^ready$/m);
    let last = "";
    for (let i = 0; i < 10; i++) {
      last = `${s.dir}/busy-${i}.amber`;
      await app.snapshot({ dir: last });
      if (i < 9) await Deno.remove(last, { recursive: true });
    }
    await app.kill();
    await s.restore(last);
    await s.pass();
  },
);

scenarioTest("Deno itself (V8, its JIT, its threads and event loop) keeps its state", async (s) => {
  const script = new URL("./progs/deno_state.js", import.meta.url).pathname;
  // A cache of its own: another Deno that rewrites the shared one would change files it holds.
  const cache = `DENO_DIR=${s.dir}/deno-cache`;
  await s.roundTrip(["/usr/bin/env", cache, Deno.execPath(), "run", "-A", script, s.dir], "deno");
});

scenarioTest("threads waiting in sigwaitinfo and pause wait on through the snapshot", async (s) => {
  await s.roundTrip([prog("signal_waits"), s.dir], "waits");
});

scenarioTest("Node.js (V8, libuv's loop and thread pool) keeps its state", async (s) => {
  // Node.js is there wherever Amber builds: npm, which fetches Deno, runs on it.
  const which = new Deno.Command("sh", { args: ["-c", "command -v node"], stdout: "piped" });
  const node = new TextDecoder().decode((await which.output()).stdout).trim();
  assert.ok(node, "node is not on the PATH");
  const script = new URL("./progs/node_state.js", import.meta.url).pathname;
  await s.roundTrip([node, script, s.dir], "node");
});
