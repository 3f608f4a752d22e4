/**
 * Snapshot and restore time for applications of 1, 4 and 16 processes of 16 MiB each: how
 * the barrier, the per-process files and the restore of the tree scale. Median and minimum of
 * several rounds after a warm-up round.
 *
 * Run: `make bench`, or `deno run -A bench/processes.ts [N...]`.
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { launch, restore } from "../mod.ts";

const BENCH = fileURLToPath(new URL("../build/bench/", import.meta.url));
const ROUNDS = 5;
const counts = Deno.args.length ? Deno.args.map(Number) : [1, 4, 16];

function stats(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  return `${sorted[Math.floor(sorted.length / 2)].toFixed(1)} / ${sorted[0].toFixed(1)}`;
}

async function waitReady(path: string): Promise<void> {
  for (let i = 0; i < 3000; i++) {
    if ((await Deno.readTextFile(path).catch(() => "")).includes("ready")) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`'${path}' never said ready`);
}

const dir = await Deno.makeTempDir({ prefix: "amber-bench-", dir: Deno.cwd() });
try {
  console.log("processes   snapshot ms (median / min)   restore ms (median / min)");
  for (const n of counts) {
    const output = join(dir, `out-${n}`);
    const app = await launch([join(BENCH, "many_processes"), String(n), "16"], { output });
    const snaps: number[] = [], restores: number[] = [];
    try {
      await waitReady(output);
      for (let round = 0; round <= ROUNDS; round++) {
        const imageDir = join(dir, `image-${n}-${round}`);
        const t0 = performance.now();
        const image = await app.snapshot({ dir: imageDir });
        const t1 = performance.now();
        const again = await restore(image, { name: `bench-procs-${n}-${round}`, output });
        const t2 = performance.now();
        await again.kill();
        await Deno.remove(imageDir, { recursive: true });
        if (round === 0) continue;
        snaps.push(t1 - t0);
        restores.push(t2 - t1);
      }
    } finally {
      await app.kill();
    }
    console.log(`${String(n).padEnd(10)}  ${stats(snaps).padEnd(29)}  ${stats(restores)}`);
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
