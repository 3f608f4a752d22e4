/**
 * Snapshot and restore time of one MAP_SHARED | MAP_ANONYMOUS region (1 GiB unless told) that
 * 8 worker processes filled, each its own eighth, and of which four have exited (their pages
 * are only in the shared object): every page is saved once, from the object, beside this
 * machine's memory copy speed measured in the same run. Median and minimum of several rounds
 * after a warm-up round.
 *
 * Run: `make bench`, or `deno run -A bench/shared_memory.ts [MiB...]` (4096 for 4 GiB).
 */

import { join } from "node:path";
import { restore } from "../mod.ts";
import { benchRounds, median, printLimits, stats } from "./figures.ts";
const ROUNDS = 3;
const sizes = Deno.args.length ? Deno.args.map(Number) : [1024];

async function measure(dir: string, mib: number) {
  const snaps: number[] = [], freezes: number[] = [], restores: number[] = [];
  await benchRounds(dir, "shared_touch", mib, ROUNDS, async (app, output, round) => {
    const imageDir = join(dir, `image-${mib}-${round}`);
    const t0 = performance.now();
    const image = await app.snapshot({ dir: imageDir });
    const t1 = performance.now();
    const restored = await restore(image, { name: `bench-shared-${mib}-${round}`, output });
    const t2 = performance.now();
    await restored.kill();
    await Deno.remove(imageDir, { recursive: true });
    if (round === 0) return; // warm-up
    snaps.push(t1 - t0);
    freezes.push(image.frozenMs ?? t1 - t0);
    restores.push(t2 - t1);
  });
  return { snaps, freezes, restores };
}

const dir = await Deno.makeTempDir({ prefix: "amber-bench-", dir: Deno.cwd() });
try {
  await printLimits(dir, "memcpy");
  console.log(
    "shared memory, 8 writers   snapshot ms (median / min)   frozen ms   restore ms   snapshot MB/s",
  );
  for (const mib of sizes) {
    const { snaps, freezes, restores } = await measure(dir, mib);
    console.log([
      `${mib} MiB`.padEnd(25),
      stats(snaps).padEnd(27),
      stats(freezes).padEnd(10),
      stats(restores).padEnd(11),
      (mib * 2 ** 20 / 1e6 / (median(snaps) / 1000)).toFixed(0),
    ].join("  "));
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
