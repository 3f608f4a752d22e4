/**
 * Copy-on-write snapshots (without stop): the application runs on while copies of its processes
 * write their files, and the image is exactly the state at the freeze. cow_rewrite rewrites all
 * of its memory as fast as it can, keeping in memory where it is, so every restored worker
 * checks that its memory is a state it was in, and prints its checksum.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { App, Image } from "../mod.ts";
import { prog, type Scenario, scenarioTest, sleep } from "./support.ts";

const SUM = /^sum .*$/gm;

/** The "sum" lines printed after `from` in the output, once there are `count` of them. */
async function sums(s: Scenario, from: number, count: number): Promise<string[]> {
  for (const deadline = Date.now() + 60_000;;) {
    const text = (await s.text()).slice(from);
    if (/^FAIL/m.test(text)) assert.fail(`The program failed:\n${text}`);
    const lines = text.match(SUM) ?? [];
    if (lines.length >= count) return lines.slice(0, count).sort();
    if (Date.now() > deadline) assert.fail(`Not ${count} sum lines in time:\n${text}`);
    await sleep(20);
  }
}

/** The highest "progress N" the original printed after `from`. */
function progress(text: string, from = 0): number {
  const all = [...text.slice(from).matchAll(/^progress (\d+)$/gm)].map((m) => Number(m[1]));
  return all.length ? Math.max(...all) : 0;
}

/** Waits until the output after `from` says "progress N" for some N >= `gen`. */
async function waitProgress(s: Scenario, from: number, gen: number): Promise<void> {
  for (const deadline = Date.now() + 60_000; progress(await s.text(), from) < gen;) {
    if (Date.now() > deadline) assert.fail(`No progress ${gen} in time:\n${await s.text()}`);
    await sleep(20);
  }
}

function genOf(lines: string[], worker: string): number {
  const line = lines.find((l) => l.startsWith(`sum ${worker} `));
  assert.ok(line, `no sum line for ${worker} in ${lines.join("\n")}`);
  return Number(/ gen (\d+) /.exec(line)![1]);
}

/** Sends `signal` to `pid`; false if it has ended already. */
function signalled(pid: number, signal: Deno.Signal): boolean {
  try {
    Deno.kill(pid, signal);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

scenarioTest(
  "a program rewriting all its memory during a copy-on-write snapshot comes back exactly as it was frozen: threads, a child, shared and fork-special memory, twice, and a second cycle",
  async (s) => {
    // Per process: 2 workers on 96 MiB; the first has one more on 4 MiB of shared memory, its
    // child two more on MADV_WIPEONFORK and MADV_DONTFORK memory: 7 workers.
    const workers = 7;
    const app = await s.launch([prog("cow_rewrite"), s.dir, "192", "2", "1"], "cow");
    await s.waitFor(/^ready$/m);
    await waitProgress(s, 0, 4);
    // Once it runs on, its copies are held until it has rewritten all its memory again. On a
    // quiet machine both copies may be done before they are looked for: then the snapshot is
    // taken again, a few times at most.
    let image: Image | undefined;
    for (let attempt = 0; attempt < 5 && !image; attempt++) {
      let held = false;
      const dir = join(s.dir, `first-${attempt}.amber`);
      const taken = await app.snapshot({
        dir,
        afterResume: async () => {
          let writers = await findWriters(app); // one may be done already, or not yet apart
          for (const until = Date.now() + 2000; !writers.length && Date.now() < until;) {
            await sleep(2);
            writers = await findWriters(app);
          }
          // A copy found may finish before it is stopped: only the ones stopped hold.
          const stopped = writers.filter((pid) => signalled(pid, "SIGSTOP"));
          if (!stopped.length) return;
          held = true;
          await waitProgress(s, 0, progress(await s.text()) + 4);
          for (const pid of stopped) signalled(pid, "SIGCONT");
        },
      });
      if (held) image = taken;
    }
    assert.ok(image, "no copy writing was found in five snapshots");
    const atReturn = progress(await s.text());
    assert.ok(image.stats!.frozenMs < image.stats!.totalMs, "frozen for the whole snapshot");
    await app.kill();

    let from = (await s.text()).length;
    const first = await s.restore(image);
    const frozen = await sums(s, from, workers);
    // The original rewrote its memory while its image was written: what came back is older.
    assert.ok(
      atReturn > genOf(frozen, "p0 w0"),
      `the original was at generation ${atReturn} when the snapshot returned, its image at ` +
        genOf(frozen, "p0 w0"),
    );
    // The restored application runs on, rewriting: a second copy-on-write cycle of it.
    await waitProgress(s, from, genOf(frozen, "p0 w0") + 4);
    const second = await first.snapshot({ dir: join(s.dir, "second.amber") });
    await first.kill();

    // The first image again: the same state, to the checksum.
    await Deno.writeTextFile(s.go, "");
    from = (await s.text()).length;
    const again = await s.restore(image);
    assert.deepEqual(await sums(s, from, workers), frozen);
    await s.waitFor(/^PASS$/m, "PASS");
    await again.kill();

    from = (await s.text()).length;
    await s.restore(second);
    const later = await sums(s, from, workers);
    assert.ok(genOf(later, "p0 w0") > genOf(frozen, "p0 w0"), "the second image is later");
    await s.waitFor(new RegExp(`^PASS$[^]*^PASS$`, "m"), "PASS");
  },
  180_000,
);

/**
 * The copies writing the images of `app`'s processes: each a cow_rewrite in a session of its own
 * that is none of its processes.
 */
async function findWriters(app: App): Promise<number[]> {
  const own = new Set(app.processes().map((p) => p.pid));
  // A copy is reparented to its application's supervisor: the parent of its first process.
  const first = await Deno.readTextFile(`/proc/${app.processes()[0].pid}/stat`).catch(() => "");
  const supervisor = Number(first.slice(first.lastIndexOf(")") + 2).split(" ")[1]);
  const found: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    const pid = Number(entry.name);
    if (!Number.isInteger(pid) || own.has(pid)) continue;
    try {
      const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const copy = Number(fields[3]) === pid && Number(fields[1]) === supervisor;
      if (stat.includes("(cow_rewrite)") && copy) found.push(pid);
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

async function findWriter(app: App): Promise<number | undefined> {
  return (await findWriters(app))[0];
}

scenarioTest(
  "a copy that dies while it writes leaves no image, names the process, and the application runs on",
  async (s) => {
    const app = await s.launch([prog("cow_rewrite"), s.dir, "512", "1", "0"], "cow");
    await s.waitFor(/^ready$/m);
    const dir = join(s.dir, "never.amber");
    // Killed as soon as the application runs on, while it writes. On a quiet machine a copy
    // may finish before it is found: then the snapshot is taken again, a few times at most.
    let killed: number | undefined;
    let result: PromiseSettledResult<unknown> | undefined;
    for (let attempt = 0; attempt < 5 && !killed; attempt++) {
      const snapshot = app.snapshot({
        dir,
        afterResume: async () => {
          for (const until = Date.now() + 2000; !killed && Date.now() < until; await sleep(2)) {
            killed = await findWriter(app);
          }
          if (killed) Deno.kill(killed, "SIGKILL");
        },
      });
      [result] = await Promise.allSettled([snapshot]);
      if (!killed && result.status === "fulfilled") await Deno.remove(dir, { recursive: true });
    }
    assert.ok(killed && result, "no copy writing was found in five snapshots");
    assert.equal(result.status, "rejected", "the snapshot succeeded");
    const error = (result as PromiseRejectedResult).reason as Error;
    assert.match(
      error.message,
      new RegExp(
        `process ${app.processes()[0].vpid}: the copy of it that wrote its memory after it ` +
          `resumed \\(pid ${killed}\\) ended before its file was complete.*it keeps running`,
      ),
    );
    const left = [...Deno.readDirSync(s.dir)].map((e) => e.name).filter((n) =>
      n.startsWith("never.amber")
    );
    assert.deepEqual(left, [], "an image or its temporary directory was left");
    const text = await s.text();
    await waitProgress(s, text.length, progress(text) + 2);
  },
);

scenarioTest(
  "an application killed while its copy writes ends at once, and its image is still complete and exact",
  async (s) => {
    const app = await s.launch([prog("cow_rewrite"), s.dir, "512", "1", "0"], "cow");
    await s.waitFor(/^ready$/m);
    const snapshot = app.snapshot({ dir: join(s.dir, "image.amber") });
    snapshot.catch(() => {}); // awaited below; a failure must not count as unhandled before
    let writer: number | undefined;
    for (let i = 0; i < 4000 && !writer; i++) {
      writer = await findWriter(app);
      if (!writer) await sleep(2);
    }
    assert.ok(writer, "no copy writing was found");
    await sleep(50); // its process said it was captured
    await app.kill(); // within its 10 s, though the copy writes on
    const image = await snapshot;
    await Deno.writeTextFile(s.go, "");
    const from = (await s.text()).length;
    await s.restore(image);
    await sums(s, from, 2);
    await s.waitFor(/^PASS$/m, "PASS");
  },
);
