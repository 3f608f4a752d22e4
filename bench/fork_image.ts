/**
 * Pages forked children share with their parent, stored once: for a parent with N MiB of data
 * and 4 forked children (tests/progs/fork_sharing.c), the snapshot's total time (the pass that
 * rewrites the children's files included), its frozen time, the image's size and the size it
 * would have with each process's pages in its own file, median and minimum of ROUNDS; then the
 * memory the 5 restored processes take together (their Pss), restored eagerly and lazily (every
 * page touched), against 5 times N without the sharing.
 *
 * Run: `deno run -A bench/fork_image.ts [MiB...]` (ROUNDS=n in the environment).
 */

import { join } from "node:path";
import { launch, restore } from "../mod.ts";
import { BENCH, printLimits, stats, waitForText } from "./figures.ts";

const ROUNDS = Number(Deno.env.get("ROUNDS") ?? 4);
const sizes = Deno.args.length ? Deno.args.map(Number) : [64, 256];
const PROG = join(BENCH, "..", "tests", "fork_sharing");

/** The processes' Pss added up, in MiB, as the program measured it once its check after the
 * restore touched every page. */
async function pssMiB(output: string): Promise<number> {
  await waitForText(output, "PASS");
  const lines = [...(await Deno.readTextFile(output)).matchAll(/^pss (\d+) kB$/gm)];
  return Number(lines.at(-1)?.[1] ?? NaN) / 1024;
}

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
    let size = 0, unshared = 0, eager = 0, lazy = 0;
    try {
      await waitForText(output, "ready");
      for (let round = 0; round <= ROUNDS; round++) {
        const imageDir = join(dir, `image-${mib}-${round}`);
        const t0 = performance.now();
        const image = await app.snapshot({ dir: imageDir });
        const t1 = performance.now();
        size = image.manifest.files.reduce((sum, file) => sum + file.size, 0);
        unshared = size + (image.stats?.pagesShared ?? 0) * 4096;
        if (round === ROUNDS) {
          for (const asked of [false, true]) { // after go, the parent's check touches every page
            const out = join(dir, `restored-${mib}-${asked}`);
            await Deno.remove(join(dir, "go")).catch(() => {});
            const name = `fork-image-${mib}-${asked ? "lazy" : "eager"}-${round}`;
            const again = await restore(imageDir, { lazy: asked, output: out, name });
            try {
              await Deno.writeTextFile(join(dir, "go"), "");
              const pss = await pssMiB(out);
              if (asked) lazy = pss;
              else eager = pss;
            } finally {
              await again.kill();
            }
          }
        }
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
      (unshared / 2 ** 20).toFixed(1).padEnd(12),
      `${eager.toFixed(1)} / ${lazy.toFixed(1)}`,
    ].join("  "));
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
