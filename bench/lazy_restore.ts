/**
 * Lazy restore to running (`--lazy`: private memory mapped from the image, read when first
 * touched) for 256 MiB, 1 GiB and 8 GiB of random data, from one image each (copy-on-write; the
 * original ended once it is written, so that its memory is free again), beside the image's size; median and minimum of
 * ROUNDS restores after a warm-up. Restore to running: from the call to every process running
 * again; each restored application is ended before the next.
 *
 * Run: `deno run -A bench/lazy_restore.ts [MiB...]` (8 GiB needs some 9 GiB of memory free and
 * as much disk; ROUNDS=n in the environment).
 */

import { join } from "node:path";
import { launch, restore } from "../mod.ts";
import { BENCH, stats, waitForText } from "./figures.ts";

const ROUNDS = Number(Deno.env.get("ROUNDS") ?? 5);
const sizes = Deno.args.length ? Deno.args.map(Number) : [256, 1024, 8192];

const dir = await Deno.makeTempDir({ prefix: "amber-bench-", dir: Deno.cwd() });
try {
  console.log("memory    lazy restore to running ms (median / min)   image GiB");
  for (const mib of sizes) {
    const output = join(dir, `out-${mib}`);
    const app = await launch([join(BENCH, "touch_memory"), String(mib)], { output });
    let image;
    try {
      await waitForText(output, "ready");
      image = await app.snapshot({ dir: join(dir, `image-${mib}`), timeoutMs: 600_000 });
    } finally {
      await app.kill().catch(() => {});
    }
    const times: number[] = [];
    for (let round = 0; round <= ROUNDS; round++) {
      const t0 = performance.now();
      const lazy = await restore(image, { name: `bench-lazy-${mib}-${round}`, output, lazy: true });
      const t1 = performance.now();
      await lazy.kill();
      if (round > 0) times.push(t1 - t0); // round 0: a warm-up
    }
    const size = image.manifest.files.reduce((sum, file) => sum + file.size, 0);
    console.log(`${mib} MiB`.padEnd(8), stats(times).padEnd(42), (size / 2 ** 30).toFixed(2));
    await Deno.remove(join(dir, `image-${mib}`), { recursive: true });
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
