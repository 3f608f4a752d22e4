/**
 * Incremental images whose written pages dirty-page tracking found (userfaultfd write-protect
 * and PAGEMAP_SCAN, csrc/preload/agent/agent_track.c): a program changes a known scattered set
 * of pages between snapshots (writes, MADV_DONTNEED, a region mapped anew, one moved, one
 * unmapped, a private file mapping), and every restore from the chain finds each page exact,
 * while each incremental image holds about the written pages only. A restored program's
 * tracking starts afresh.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { App, Image } from "../mod.ts";
import { check } from "../mod.ts";
import { prog, type Scenario, scenarioTest } from "./support.ts";

const tracking = (await check()).features.find((f) => f.id === "dirtyTracking")?.present ?? false;

/** Round n of the program's changes, and the snapshot after it (incremental on `parent`). */
async function round(
  s: Scenario,
  app: App,
  n: number,
  parent: Image,
  preCopy?: boolean,
): Promise<Image> {
  await Deno.writeTextFile(join(s.dir, `step${n}`), "");
  await s.waitFor(new RegExp(`^changed ${n}$`, "m"), `changed ${n}`);
  return await app.snapshot({ dir: join(s.dir, `${n}.amber`), parent, preCopy });
}

scenarioTest(
  "incremental images from dirty-page tracking restore every page exactly",
  async (s) => {
    const app = await s.launch([prog("dirty_pages"), s.dir], "dirty");
    await s.waitFor(/^ready$/m);
    const base = await app.snapshot({ dir: join(s.dir, "0.amber") });
    const one = await round(s, app, 1, base);
    const two = await round(s, app, 2, one);
    for (const image of [one, two]) {
      const stats = image.stats!;
      // 1% of 16384 pages, the regions mapped anew (2048 + 256 pages), the moved one's 1024, and
      // the file's; of about 20000 pages in all.
      assert.ok(
        stats.pagesWritten < 5000,
        `about the written pages only: ${JSON.stringify(stats)}`,
      );
      assert.ok(stats.pagesInParent > 15000, `the rest in the parent: ${JSON.stringify(stats)}`);
      if (tracking) assert.ok(stats.trackedRegions > 0, `tracked: ${JSON.stringify(stats)}`);
      // Incremental images are pre-copied too: only the pages written since the parent.
      if (tracking) assert.equal(stats.processesPreCopied, 1, JSON.stringify(stats));
    }
    await app.kill();

    // The chain 2 -> 1 -> 0, checked by the restored program itself before its round 3; then a
    // snapshot of it (tracking starts afresh: hashed; not pre-copied, which would hash while it
    // runs), one tracked on that, and the restore of it.
    const restored = await s.restore(two);
    const three = await round(s, restored, 3, two, false);
    await s.waitFor(/^checked 2$/m);
    assert.equal(three.stats!.trackedRegions, 0, "a restored process has nothing tracked yet");
    const four = await round(s, restored, 4, three);
    if (tracking) assert.ok(four.stats!.trackedRegions > 0, JSON.stringify(four.stats));
    assert.ok(four.stats!.pagesWritten < 5000, JSON.stringify(four.stats));
    await restored.kill();
    await s.restore(four);
    await s.pass();
  },
  120_000,
);

scenarioTest("snapshots with --stop use tracking too, and the image is exact", async (s) => {
  const app = await s.launch([prog("dirty_pages"), s.dir], "dirty");
  await s.waitFor(/^ready$/m);
  const base = await app.snapshot({ dir: join(s.dir, "0.amber"), copyOnWrite: false });
  await Deno.writeTextFile(join(s.dir, "step1"), "");
  await s.waitFor(/^changed 1$/m);
  const one = await app.snapshot({ dir: join(s.dir, "1.amber"), parent: base, stop: true });
  if (tracking) assert.ok(one.stats!.trackedRegions > 0, JSON.stringify(one.stats));
  await s.restore(one);
  await s.pass();
});

scenarioTest(
  "incremental images of threads and a child rewriting their memory flat out are the state at the freeze",
  async (s) => {
    const app = await s.launch([prog("cow_rewrite"), s.dir, "64", "2", "1"], "rewrite");
    await s.waitFor(/^ready$/m);
    // It says "progress N" every other generation of its first worker's memory.
    const progressed = (n: number) => s.waitFor(new RegExp(`(^progress \\d+$[^]*){${n}}`, "m"));
    await progressed(1);
    let image = await app.snapshot({ dir: join(s.dir, "0.amber") });
    for (let i = 1; i <= 2; i++) {
      await progressed(1 + 2 * i);
      image = await app.snapshot({ dir: join(s.dir, `${i}.amber`), parent: image });
      if (tracking) assert.ok(image.stats!.trackedRegions > 0, JSON.stringify(image.stats));
    }
    await app.kill();
    // Restored with DIR/go there, each worker checks its memory against the state it kept, and
    // ends; the first process says PASS once all held.
    await Deno.writeTextFile(s.go, "");
    await s.restore(image);
    await s.waitFor(/^PASS$/m, "PASS");
  },
  120_000,
);
