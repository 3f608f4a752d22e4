/**
 * A process that holds memory of zeros (every page there, written with zeros) gives an image whose
 * size does not follow its memory: pages of zeros take no room, and the few pages that hold
 * something (the libraries' data, the stack) are packed. The bound grows with the memory 4096
 * times slower than the memory does. Each program checks its memory after the restore, then
 * uses it, and prints PASS.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { Image } from "../mod.ts";
import { prog, scenarioTest } from "./support.ts";

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
