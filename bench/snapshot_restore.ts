/**
 * Snapshot time, restore time and image size for 64 MiB, 256 MiB and 1 GiB of touched memory,
 * beside this machine's memory copy speed and sequential write speed measured in the same run.
 * Each figure is the median and minimum of several rounds after a warm-up round.
 *
 * Snapshot time: from the request to the image complete and durable on disk (fdatasync'd).
 * Freeze time: how long the application was stopped for it (it runs on while the image is
 * flushed to the disk and checksummed). Restore time: from the request to every process running again, with
 * its memory read in. Lazy restore time: the same with memory mapped from the image instead,
 * to be read when first touched (the reading is then paid by the program, page by page).
 * Incremental snapshot: another snapshot right after, with the first as its parent, of memory
 * that did not change (every page is hashed and compared; none is written again).
 *
 * Run: `make bench`, or `deno run -A bench/snapshot_restore.ts [MiB...]`.
 */

import { join } from "node:path";
import { restore } from "../mod.ts";
import { benchRounds, median, printLimits, stats } from "./figures.ts";

const ROUNDS = 3;
const sizes = Deno.args.length ? Deno.args.map(Number) : [64, 256, 1024];

async function imageBytes(dir: string): Promise<number> {
  let total = 0;
  for await (const entry of Deno.readDir(dir)) {
    total += (await Deno.stat(join(dir, entry.name))).size;
  }
  return total;
}

async function measure(dir: string, mib: number) {
  const snaps: number[] = [], restores: number[] = [], lazies: number[] = [], incs: number[] = [];
  const freezes: number[] = [];
  let size = 0, incSize = 0;
  await benchRounds(dir, "touch_memory", mib, ROUNDS, async (app, output, round) => {
    const imageDir = join(dir, `image-${mib}-${round}`);
    const t0 = performance.now();
    const image = await app.snapshot({ dir: imageDir });
    const t1 = performance.now();
    const ti = performance.now();
    const incDir = join(dir, `inc-${mib}-${round}`);
    await app.snapshot({ dir: incDir, parent: image });
    const tj = performance.now();
    incSize = await imageBytes(incDir);
    await Deno.remove(incDir, { recursive: true });
    const restored = await restore(image, { name: `bench-${mib}-${round}`, output });
    const t2 = performance.now() - (tj - ti);
    await restored.kill();
    const t3 = performance.now();
    const lazy = await restore(image, { name: `bench-lazy-${mib}-${round}`, output, lazy: true });
    const t4 = performance.now();
    await lazy.kill();
    size = await imageBytes(imageDir);
    await Deno.remove(imageDir, { recursive: true });
    if (round === 0) return; // warm-up
    snaps.push(t1 - t0);
    freezes.push(image.frozenMs ?? t1 - t0);
    restores.push(t2 - t1);
    lazies.push(t4 - t3);
    incs.push(tj - ti);
  });
  return { snaps, freezes, restores, lazies, incs, size, incSize };
}

const dir = await Deno.makeTempDir({ prefix: "amber-bench-", dir: Deno.cwd() });
try {
  await printLimits(dir);
  console.log(
    "memory    snapshot ms (median / min)   frozen ms   restore ms (median / min)   lazy restore ms   " +
      "image MiB   snapshot MB/s   incremental ms (image KiB)",
  );
  for (const mib of sizes) {
    const { snaps, freezes, restores, lazies, incs, size, incSize } = await measure(dir, mib);
    console.log([
      `${mib} MiB`.padEnd(8),
      stats(snaps).padEnd(29),
      stats(freezes).padEnd(10),
      stats(restores).padEnd(27),
      stats(lazies).padEnd(16),
      (size / 2 ** 20).toFixed(1).padEnd(10),
      (size / 1e6 / (median(snaps) / 1000)).toFixed(0).padEnd(14),
      `${stats(incs)} (${(incSize / 1024).toFixed(0)})`,
    ].join("  "));
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
