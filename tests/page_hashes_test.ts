/**
 * Every page's stored hash is that of its stored bytes: a restore checks each page as it reads
 * it (csrc/restorer/verify.c) and refuses an image where one disagrees. Snapshots taken while the
 * program runs on (no --stop), of a restored program, and incremental ones on top, are where
 * memory changes while the agent writes (its own stack and data, the threads' rseq areas).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { prog, scenarioTest } from "./support.ts";

scenarioTest(
  "snapshots without stop, of a restored program and incremental ones pass the per-page check",
  async (s) => {
    const app = await s.launch([prog("heap_pattern"), s.dir, "64"], "hashes");
    await s.waitFor(/^ready$/m);
    const first = await app.snapshot({ dir: join(s.dir, "first.amber") });
    const restored = await s.restore(first);
    const again = await restored.snapshot({ dir: join(s.dir, "again.amber") });
    const delta = await restored.snapshot({ dir: join(s.dir, "delta.amber"), parent: again });
    await restored.kill();
    await app.kill();
    await s.restore(again);
    await s.restore(delta);
    await s.pass();
    const passes = () => s.text().then((t) => t.match(/^PASS$/gm)?.length ?? 0);
    for (let i = 0; i < 100 && await passes() < 2; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await passes(), 2, "both restored programs found their memory exact");
  },
);

scenarioTest(
  "snapshots of a program with threads, taken while it runs on, restore with every page checked",
  async (s) => {
    const app = await s.launch([prog("threads_heap"), s.dir], "threads");
    await s.waitFor(/^ready$/m);
    const images = [];
    for (let i = 0; i < 4; i++) images.push(await app.snapshot({ dir: join(s.dir, `${i}.amber`) }));
    await app.kill();
    for (const image of images) await s.restore(image);
    await s.pass();
    const passes = () => s.text().then((t) => t.match(/^PASS$/gm)?.length ?? 0);
    for (let i = 0; i < 100 && await passes() < 4; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await passes(), 4, "every restored program found its memory exact");
  },
);
