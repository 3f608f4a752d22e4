/**
 * Incremental snapshots are pre-copied (docs/snapshot-protocol.md, "Pre-copy"): while the
 * application runs, the pages written since the parent image are copied (found by dirty-page
 * tracking, or by hashing where tracking cannot say), and the freeze writes only what was
 * written since; the others stay references to the parent. precopy_incremental rewrites its
 * memory flat out with a checksum of it in memory: each restore must bring back exactly the
 * memory of that checksum at the freeze.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { check, type Image, inspect } from "../mod.ts";
import { openAppTable } from "../src/app_table.ts";
import { processesOf } from "../src/processes.ts";
import { prog, type Scenario, scenarioTest, sleep } from "./support.ts";

const tracking = (await check()).features.find((f) => f.id === "dirtyTracking")?.present ?? false;

/** Waits until the output after `from` matches; fails at once on a FAIL line. */
async function waitAfter(s: Scenario, from: number, pattern: RegExp): Promise<void> {
  for (const deadline = Date.now() + 60_000;;) {
    const text = (await s.text()).slice(from);
    if (/^FAIL/m.test(text)) assert.fail(`The program failed:\n${text}`);
    if (pattern.test(text)) return;
    if (Date.now() > deadline) assert.fail(`Not ${pattern} in time:\n${text}`);
    await sleep(20);
  }
}

/** Waits until the window of written pages has moved on once more (about 1/4 of the memory). */
async function moved(s: Scenario): Promise<void> {
  await waitAfter(s, (await s.text()).length, /^moved \d+$/m);
}

/** The checks every pre-copied incremental image passes: pre-copied, and mostly the parent's. */
function assertIncremental(image: Image): void {
  const stats = image.stats!;
  if (tracking) assert.equal(stats.processesPreCopied, 1, `pre-copied: ${JSON.stringify(stats)}`);
  assert.ok(stats.pagesInParent > 0, `refers to its parent: ${JSON.stringify(stats)}`);
}

/** Restores `image` and waits for the restored program to find its memory exact. */
async function restoreExact(s: Scenario, image: Image) {
  const from = (await s.text()).length;
  const app = await s.restore(image);
  await waitAfter(s, from, /^restored sum ok$/m);
  return app;
}

scenarioTest(
  "an incremental snapshot of a program rewriting its memory flat out is pre-copied and restores the memory of the freeze, and so does the next one of the restored program",
  async (s) => {
    const app = await s.launch([prog("precopy_incremental"), s.dir, "64"], "rewrite");
    await s.waitFor(/^ready$/m);
    const base = await app.snapshot({ dir: join(s.dir, "0.amber") });
    await moved(s);
    const one = await app.snapshot({ dir: join(s.dir, "1.amber"), parent: base, stop: true });
    assertIncremental(one);
    await inspect(one.dir); // every file of the chain checked whole
    const restored = await restoreExact(s, one);
    // Restored, its tracking starts afresh: the next pre-copy finds what changed by hashing.
    await moved(s);
    const two = await restored.snapshot({ dir: join(s.dir, "2.amber"), parent: one });
    assertIncremental(two);
    await restored.kill();
    await restoreExact(s, two);
    await s.pass();
  },
  180_000,
);

scenarioTest(
  "a chain of three incremental pre-copied snapshots of a program rewriting its memory each restores exactly",
  async (s) => {
    const app = await s.launch([prog("precopy_incremental"), s.dir, "64"], "rewrite");
    await s.waitFor(/^ready$/m);
    const chain: Image[] = [await app.snapshot({ dir: join(s.dir, "0.amber") })];
    for (let n = 1; n <= 3; n++) {
      await moved(s);
      const image = await app.snapshot({
        dir: join(s.dir, `${n}.amber`),
        parent: chain[n - 1],
        stop: n === 3,
      });
      assertIncremental(image);
      chain.push(image);
    }
    for (const image of chain.slice(1, 3)) await (await restoreExact(s, image)).kill();
    await restoreExact(s, chain[3]);
    await s.pass();
  },
  180_000,
);

scenarioTest(
  "a pre-copy that no snapshot takes leaves the next incremental image exact: it does not trust write-protect bits the pre-copy protected again",
  async (s) => {
    const app = await s.launch([prog("precopy_incremental"), s.dir, "64"], "rewrite");
    await s.waitFor(/^ready$/m);
    const base = await app.snapshot({ dir: join(s.dir, "0.amber") });
    await moved(s);
    // A pre-copy on `base` that its snapshot abandons (as a failed or aborted one would): the
    // pages written since `base` are protected again, and most are not written after.
    {
      using table = openAppTable(app);
      assert.ok(table.precopyClaim(), "the control block is free");
      const abandoned = join(s.dir, "abandoned");
      await Deno.mkdir(abandoned);
      for (const p of processesOf(table.rows())) {
        assert.ok(await table.precopy(p.vpid, abandoned, false, base.dir), "pre-copied");
      }
      table.precopyRelease();
    }
    await moved(s);
    const one = await app.snapshot({ dir: join(s.dir, "1.amber"), parent: base, stop: true });
    assertIncremental(one);
    await restoreExact(s, one);
    await s.pass();
  },
  180_000,
);
