/**
 * Restore to running, eager, for 256 MiB and 1 GiB of random data, beside the time to copy the
 * image's bytes once at this machine's memory copy speed (measured in the same run): the floor
 * for a restore that reads its image once from the page cache. Since the restorer checks each
 * page as it reads it, the image is not read (and hashed) a second time before the restore.
 * Also: how long a restore's up-front check takes (`verify` without pages, the metadata) beside
 * `inspect` (every file whole, as a lazy restore checks).
 *
 * Run: `deno run -A bench/restore_check.ts [MiB...]` (ROUNDS=n in the environment: rounds).
 */

import { join } from "node:path";
import { inspect, launch, restore } from "../mod.ts";
import { BENCH, printLimits, stats, waitForText } from "./figures.ts";

const ROUNDS = Number(Deno.env.get("ROUNDS") ?? 5);
const sizes = Deno.args.length ? Deno.args.map(Number) : [256, 1024];

const dir = await Deno.makeTempDir({ prefix: "amber-bench-", dir: Deno.cwd() });
try {
  const limit = await printLimits(dir, "memcpy");
  const copy = Number(limit.memcpy.split(" ")[0]);
  console.log(
    "memory     restore ms (median / min)   image copied once ms   inspect ms (median / min)",
  );
  for (const mib of sizes) {
    const output = join(dir, `out-${mib}`);
    const app = await launch([join(BENCH, "touch_memory"), String(mib)], { output });
    const restores: number[] = [], inspects: number[] = [];
    try {
      await waitForText(output, "ready");
      const image = await app.snapshot({ dir: join(dir, `image-${mib}`) });
      for (let round = 0; round <= ROUNDS; round++) {
        const t0 = performance.now();
        const restored = await restore(image, { name: `bench-check-${mib}-${round}`, output });
        const t1 = performance.now();
        await restored.kill();
        const t2 = performance.now();
        await inspect(image.dir);
        const t3 = performance.now();
        if (round === 0) continue; // warm-up
        restores.push(t1 - t0);
        inspects.push(t3 - t2);
      }
    } finally {
      await app.kill();
    }
    console.log([
      `${mib} MiB`.padEnd(9),
      stats(restores).padEnd(26),
      (mib * 2 ** 20 / 1e6 / copy * 1000).toFixed(0).padEnd(21),
      stats(inspects),
    ].join("  "));
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
