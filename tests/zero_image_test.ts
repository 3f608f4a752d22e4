/**
 * A process that holds memory of zeros (every page there, written with zeros) gives an image whose
 * size does not follow its memory: pages of zeros take no room, and the few pages that hold
 * something (the libraries' data, the stack) are packed. The bound grows with the memory 4096
 * times slower than the memory does. Each program checks its memory after the restore, then
 * uses it, and prints PASS.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { check, type Image } from "../mod.ts";
import { prog, scenarioTest } from "./support.ts";

const tracking = (await check()).features.find((f) => f.id === "dirtyTracking")?.present ?? false;

/** Every file of the image, the manifest too. */
async function imageBytes(image: Image): Promise<number> {
  let bytes = 0;
  for await (const entry of Deno.readDir(image.dir)) {
    bytes += (await Deno.stat(join(image.dir, entry.name))).size;
  }
  return bytes;
}

/** 160 KiB, and 256 bytes for each MiB held: 224 KiB for 256 MiB, 416 KiB for 1 GiB. */
function bound(mib: number): number {
  return 160 * 1024 + mib * 256;
}

async function assertSmall(image: Image, mib: number, what: string): Promise<void> {
  const bytes = await imageBytes(image);
  assert.ok(
    bytes < bound(mib),
    `the ${what} image of ${mib} MiB of zeros holds ${bytes} bytes, over ${bound(mib)}`,
  );
}

for (const [mib, lazy] of [[16, false], [256, true]] as const) {
  scenarioTest(
    `a process holding ${mib} MiB of zeros gives an image under ${bound(mib) >> 10} KiB, ` +
      `taken running and stopped, restored ${lazy ? "lazily" : "eagerly"}`,
    async (s) => {
      const app = await s.launch([prog("zero_data"), s.dir, String(mib)], "zeros");
      await s.waitFor(/^ready$/m);
      await assertSmall(await app.snapshot({ dir: join(s.dir, "live.amber") }), mib, "running");
      const image = await s.freeze(app);
      await assertSmall(image, mib, "stopped");
      await s.restore(image, { lazy });
      await s.pass();
    },
  );
}

scenarioTest(
  "a restored process of 64 MiB of zeros gives an image as small again, and comes back again",
  async (s) => {
    const app = await s.launch([prog("zero_data"), s.dir, "64"], "zeros");
    await s.waitFor(/^ready$/m);
    const restored = await s.restore(await s.freeze(app, "first"), { lazy: true });
    const second = await s.freeze(restored, "second");
    await assertSmall(second, 64, "second");
    await s.restore(second);
    await s.pass();
  },
);

scenarioTest(
  "pages packed in a parent image and not written since are in its incremental images",
  async (s) => {
    const app = await s.launch([prog("zero_data"), s.dir, "16", "sparse"], "sparse");
    await s.waitFor(/^ready$/m);
    const base = await app.snapshot({ dir: join(s.dir, "base.amber") });
    // Each of the 4096 pages holds one word: every one is packed, none is in the runs.
    const packed = base.manifest.processes.reduce((n, p) => n + Number(p.details.packedPages), 0);
    assert.ok(packed > 4096, `packed pages: ${packed}`);
    // Dirty-page tracking (where the kernel has it) says they were not written since the
    // parent: they are taken from it all the same, read again, not left out as zeros.
    const one = await app.snapshot({ dir: join(s.dir, "one.amber"), parent: base });
    const two = await app.snapshot({ dir: join(s.dir, "two.amber"), parent: one, stop: true });
    if (tracking) assert.ok(two.stats!.trackedRegions > 0, JSON.stringify(two.stats));
    await s.restore(two);
    await s.pass();
  },
);
