/**
 * A pre-copy skips the pages that map the kernel's shared zero page (nothing to read); a page
 * the program writes after that, before the freeze, must come back with what it held at the
 * freeze (docs/snapshot-protocol.md, "Pre-copy"). zero_page_fill zaps its memory, reads every
 * page (each then maps the zero page) and writes them one by one, over and over; a restored
 * process checks at once that the pages before its position hold the pass's words and the rest
 * zeros. Snapshots taken running, incremental on it, and with stop are each restored and checked.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { Image } from "../mod.ts";
import { prog, type Scenario, scenarioTest } from "./support.ts";

/** Restores `image` and waits for the restored process's check of its memory. */
async function restoreChecked(s: Scenario, image: Image) {
  const before = ((await s.text()).match(/^checked /gm) ?? []).length;
  const app = await s.restore(image);
  for (;;) {
    const text = await s.waitFor(/^checked /m);
    if ((text.match(/^checked /gm) ?? []).length > before) return app;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

scenarioTest(
  "pages that were the shared zero page at the pre-copy and written before the freeze come back with what they held, taken running, incremental and with stop",
  async (s) => {
    const app = await s.launch([prog("zero_page_fill"), s.dir, "32"], "fill");
    await s.waitFor(/^ready$/m);
    const live = await app.snapshot({ dir: join(s.dir, "live.amber") });
    assert.ok(live.stats!.trackedRegions > 0, "nothing was pre-copied");
    const incremental = await app.snapshot({ dir: join(s.dir, "incr.amber"), parent: live });
    const stopped = await s.freeze(app);
    for (const image of [live, incremental]) await (await restoreChecked(s, image)).kill();
    await restoreChecked(s, stopped);
    await s.pass();
  },
  120_000,
);
