/**
 * Pre-copy snapshots (docs/snapshot-protocol.md, "Pre-copy"): the pages are copied while the
 * application runs, and the freeze writes only what was written since; the image must still be
 * exactly the state at the freeze. precopy_churn rewrites its memory as fast as it can, maps,
 * unmaps and moves memory, and forks, all the while; each restored thread checks what it owns.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { inspect } from "../mod.ts";
import { appDir } from "../src/paths.ts";
import { prog, type Scenario, scenarioTest, sleep } from "./support.ts";

/** Waits until the output after `from` has every pattern; fails at once on a FAIL line. */
async function waitAfter(s: Scenario, from: number, ...patterns: RegExp[]): Promise<string> {
  for (const deadline = Date.now() + 60_000;;) {
    const text = (await s.text()).slice(from);
    if (/^FAIL/m.test(text)) assert.fail(`The program failed:\n${text}`);
    if (patterns.every((p) => p.test(text))) return text;
    if (Date.now() > deadline) assert.fail(`Not ${patterns.join(", ")} in time:\n${text}`);
    await sleep(20);
  }
}

scenarioTest(
  "a program that rewrites its memory, maps, unmaps and moves memory and forks during a pre-copy comes back exactly as it was frozen, and so does a --stop snapshot of it restored",
  async (s) => {
    const app = await s.launch([prog("precopy_churn"), s.dir, "128"], "churn");
    await s.waitFor(/^ready$/m);
    const live = await app.snapshot({ dir: join(s.dir, "live.amber") }).catch(async (e) => {
      throw new Error(`${e.message}; the program said:\n${await s.text()}`, { cause: e });
    });
    assert.ok(live.stats!.trackedRegions > 0, "nothing was pre-copied");
    await app.kill();
    await inspect(live.dir); // every file checked whole: the pages written twice are no harm

    let from = (await s.text()).length;
    const first = await s.restore(live);
    await waitAfter(s, from, /^sum rewriter .*$/m, /^slots checked \d+$/m);
    // The restored program runs on, churning: a snapshot with stop, pre-copied too.
    from = (await s.text()).length;
    const stopped = await first.snapshot({ dir: join(s.dir, "stop.amber"), stop: true });
    assert.ok(stopped.stats!.trackedRegions > 0, "nothing was pre-copied");
    await s.restore(stopped);
    await waitAfter(s, from, /^sum rewriter .*$/m, /^slots checked \d+$/m);
    await s.pass();
  },
  180_000,
);

scenarioTest(
  "a range the pre-copy cannot finish (unmapped meanwhile) is left out whole, and the pages before and after it keep their own hashes",
  async (s) => {
    const app = await s.launch([prog("adjacent_regions"), s.dir], "adjacent");
    await s.waitFor(/^ready$/m);
    const address = (await s.text()).match(/^unreadable ([0-9a-f]+)$/m)![1];
    // Read by the control library as the pre-copy reads each batch of pages.
    Deno.env.set("AMBER_TEST_PRECOPY_UNREADABLE", address);
    let image;
    try {
      image = await app.snapshot({ dir: join(s.dir, "stop.amber"), stop: true });
    } finally {
      Deno.env.delete("AMBER_TEST_PRECOPY_UNREADABLE");
    }
    assert.ok(image.stats!.trackedRegions > 0, "nothing was pre-copied");
    await inspect(image.dir); // every page against its hash
    await s.restore(image);
    await Deno.writeTextFile(s.go, "");
    await s.pass();
  },
);

scenarioTest("a snapshot with pre-copy off copies after the freeze, as before", async (s) => {
  const app = await s.launch([prog("precopy_churn"), s.dir, "16"], "churn");
  await s.waitFor(/^ready$/m);
  const image = await app.snapshot({ dir: join(s.dir, "off.amber"), preCopy: false, stop: true });
  assert.equal(image.stats!.trackedRegions, 0, "a region was pre-copied");
  const from = (await s.text()).length;
  await s.restore(image);
  await waitAfter(s, from, /^sum rewriter .*$/m, /^slots checked \d+$/m);
  await s.pass();
});

scenarioTest(
  "a live snapshot of a program that writes little after its pre-copy (what is left is written frozen) comes back byte for byte",
  async (s) => {
    const app = await s.launch([prog("heap_pattern"), s.dir, "256"], "heap");
    await s.waitFor(/^ready$/m);
    const image = await app.snapshot({ dir: join(s.dir, "live.amber") });
    assert.ok(image.stats!.trackedRegions > 0, "nothing was pre-copied");
    await app.kill();
    await s.restore(image);
    await s.pass();
  },
);

scenarioTest(
  "a pre-copied snapshot finished after the thaw holds the state at the freeze, though the program rewrites all its memory and forks meanwhile",
  async (s) => {
    // The helper that writes the file after the thaw waits first: the program's writes surely
    // come while it writes. Read by the library as the program starts.
    Deno.env.set("AMBER_TEST_DEFER_DELAY_MS", "400");
    let app;
    try {
      app = await s.launch([prog("thaw_rewrite"), s.dir, "64"], "thaw");
    } finally {
      Deno.env.delete("AMBER_TEST_DEFER_DELAY_MS");
    }
    await s.waitFor(/^ready$/m);
    const live = await app.snapshot({ dir: join(s.dir, "live.amber") });
    assert.ok(live.stats!.trackedRegions > 0, "nothing was pre-copied");
    const log = await Deno.readTextFile(join(appDir(app.name), "log")).catch(() => "");
    assert.match(
      log,
      /deferred write: the helper waits/,
      "the write was not finished after the thaw",
    );
    // The program rewrote its memory and forked as it was let go; the child inherited the
    // library's state of a write its parent's helper was finishing. Both snapshotted again.
    await s.waitFor(/^child ready$/m);
    const stopped = await app.snapshot({ dir: join(s.dir, "stop.amber"), stop: true });
    let from = (await s.text()).length;
    await s.restore(live);
    await waitAfter(s, from, /^memory as frozen \(generation 2, position 0\)$/m);
    await s.pass();
    from = (await s.text()).length;
    await s.restore(stopped);
    await waitAfter(
      s,
      from,
      /^memory as frozen \(generation 3, position 0\)$/m,
      /^child memory as frozen$/m,
      /^PASS$/m,
    );
  },
  120_000,
);

scenarioTest(
  "snapshots taken again and again leave nothing behind in the program's memory map",
  async (s) => {
    const app = await s.launch([prog("heap_pattern"), s.dir, "4"], "again");
    await s.waitFor(/^ready$/m);
    const pid = app.processes()[0].pid;
    const maps = async () => (await Deno.readTextFile(`/proc/${pid}/maps`)).split("\n").sort();
    // The first snapshots may leave the library's buffers, kept for the next ones.
    for (const n of [1, 2]) await app.snapshot({ dir: join(s.dir, `warm-${n}.amber`) });
    const before = await maps();
    for (const n of [3, 4, 5, 6]) await app.snapshot({ dir: join(s.dir, `again-${n}.amber`) });
    // A helper that wrote after the thaw may still be unmapping its stack.
    let after = await maps();
    for (const until = Date.now() + 5000; after.length > before.length && Date.now() < until;) {
      await sleep(20);
      after = await maps();
    }
    assert.deepEqual(after, before, "the memory map grew with the snapshots");
    await s.pass();
  },
);
