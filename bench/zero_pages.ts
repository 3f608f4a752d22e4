/**
 * Pages that hold only zeros: snapshot total, frozen time and image size for 256 MiB and 1 GiB
 * of memory written with zeros (every page present), with every other page zeros (runs of one
 * page: as many writes, or few with pwritev), and random data, beside this machine's sequential
 * write speed, measured in the same run, median and minimum of ROUNDS.
 *
 * Run: `deno run -A bench/zero_pages.ts [MiB...]` (ROUNDS=n, DATA=zero,sparse,random in the
 * environment).
 */

import { join } from "node:path";
import { launch } from "../mod.ts";
import { BENCH, printLimits, stats, waitForText } from "./figures.ts";

const ROUNDS = Number(Deno.env.get("ROUNDS") ?? 4);
const sizes = Deno.args.length ? Deno.args.map(Number) : [256, 1024];

async function directoryBytes(dir: string): Promise<number> {
  let bytes = 0;
  for await (const entry of Deno.readDir(dir)) {
    bytes += (await Deno.stat(join(dir, entry.name))).size;
  }
  return bytes;
}

const dir = await Deno.makeTempDir({ prefix: "amber-bench-", dir: Deno.cwd() });
try {
  await printLimits(dir, "write");
  console.log("memory          snapshot ms (median / min)   frozen ms   image MiB");
  for (const mib of sizes) {
    for (const data of Deno.env.get("DATA")?.split(",") ?? ["zero", "sparse", "random"]) {
      const output = join(dir, `out-${mib}-${data}`);
      const app = await launch([join(BENCH, "touch_memory"), String(mib), data], { output });
      const snaps: number[] = [], frozen: number[] = [];
      let size = 0;
      try {
        await waitForText(output, "ready");
        for (let round = 0; round <= ROUNDS; round++) {
          const imageDir = join(dir, `image-${mib}-${data}-${round}`);
          const t0 = performance.now();
          const image = await app.snapshot({ dir: imageDir });
          const t1 = performance.now();
          size = await directoryBytes(imageDir); // every file, the manifest too
          await Deno.remove(imageDir, { recursive: true });
          if (round === 0) continue; // warm-up
          snaps.push(t1 - t0);
          frozen.push(image.frozenMs ?? t1 - t0);
        }
      } finally {
        await app.kill();
      }
      console.log([
        `${mib} MiB ${data}`.padEnd(14),
        stats(snaps).padEnd(27),
        stats(frozen).padEnd(10),
        (size / 2 ** 20).toFixed(size < 2 ** 20 ? 2 : 1),
      ].join("  "));
    }
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
