/**
 * Pages forked children share with their parent, stored once: for a parent with N MiB of data
 * and 4 forked children (tests/progs/fork_sharing.c), the snapshot's total time (the pass that
 * rewrites the children's files included), its frozen time, the image's size and the size it
 * would have with each process's pages in its own file, median and minimum of ROUNDS.
 *
 * Run: `deno run -A bench/fork_image.ts [MiB...]` (ROUNDS=n in the environment).
 */

import { join } from "node:path";
import { launch } from "../mod.ts";
import { BENCH, printLimits, stats, waitForText } from "./figures.ts";

const ROUNDS = Number(Deno.env.get("ROUNDS") ?? 4);
const sizes = Deno.args.length ? Deno.args.map(Number) : [64, 256];
const PROG = join(BENCH, "..", "tests", "fork_sharing");

const dir = await Deno.makeTempDir({ prefix: "amber-bench-", dir: Deno.cwd() });
try {
  await printLimits(dir, "write");
  console.log(
    "parent + 4 children   snapshot ms (median / min)   frozen ms   image MiB   unshared MiB",
  );
  for (const mib of sizes) {
    const output = join(dir, `out-${mib}`);
    const app = await launch([PROG, dir, String(mib)], { output });
    const snaps: number[] = [], frozen: number[] = [];
    let size = 0, unshared = 0;
    try {
      await waitForText(output, "ready");
      for (let round = 0; round <= ROUNDS; round++) {
        const imageDir = join(dir, `image-${mib}-${round}`);
        const t0 = performance.now();
        const image = await app.snapshot({ dir: imageDir });
        const t1 = performance.now();
        size = image.manifest.files.reduce((sum, file) => sum + file.size, 0);
        unshared = size + (image.stats?.pagesShared ?? 0) * 4096;
        await Deno.remove(imageDir, { recursive: true });
        if (round === 0) continue; // warm-up
        snaps.push(t1 - t0);
        frozen.push(image.frozenMs ?? t1 - t0);
      }
    } finally {
      await app.kill();
    }
    console.log([
      `${mib} MiB`.padEnd(20),
      stats(snaps).padEnd(27),
      stats(frozen).padEnd(10),
      (size / 2 ** 20).toFixed(1).padEnd(10),
      (unshared / 2 ** 20).toFixed(1),
    ].join("  "));
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
