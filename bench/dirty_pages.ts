/**
 * Incremental snapshots of an application that wrote 1% of its memory since the parent image
 * (bench/progs/dirty_rounds.c: every 100th page, scattered): snapshot total, frozen time, pages
 * written and image size, with dirty-page tracking (userfaultfd async write-protect and
 * PAGEMAP_SCAN: only the written pages are read), pre-copied (the default: the written pages
 * copied while the application runs, the freeze writes what was written since) and not
 * (`preCopy: false`: found and written at the freeze, from a copy-on-write copy), and with
 * hashing (every page read, hashed and compared with the parent's: AMBER_DIRTY_TRACKING=off,
 * which leaves nothing to pre-copy with), beside this machine's memory copy and sequential write
 * speeds measured in the same run; median and minimum of ROUNDS. Beside the coordinator's frozen
 * time, the application's: the longest gap in a counter it runs flat out while it waits
 * (bench/progs/dirty_rounds.c), during the snapshot.
 *
 * Run: `deno run -A bench/dirty_pages.ts [MiB...]` (default 1024; ROUNDS=n in the environment;
 * MODES="tracking, pre-copy;tracking" for some of the ways only).
 */

import { join } from "node:path";
import { type Image, launch } from "../mod.ts";
import { BENCH, printLimits, stats, waitForText } from "./figures.ts";

const ROUNDS = Number(Deno.env.get("ROUNDS") ?? 5);
const sizes = Deno.args.length ? Deno.args.map(Number) : [1024];
const modes = Deno.env.get("MODES")?.split(";") ?? ["tracking, pre-copy", "tracking", "hashing"];

const dir = await Deno.makeTempDir({ prefix: "amber-bench-", dir: Deno.cwd() });
try {
  await printLimits(dir);
  console.log(
    "memory, 1% written            snapshot ms (median / min)   frozen ms     app's gap ms  " +
      "pages written  image MiB",
  );
  for (const mib of sizes) {
    for (const mode of modes) {
      const work = join(dir, `${mib}-${mode.replace(/\W+/g, "-")}`);
      await Deno.mkdir(work);
      const output = join(work, "out");
      if (mode === "hashing") Deno.env.set("AMBER_DIRTY_TRACKING", "off");
      else Deno.env.delete("AMBER_DIRTY_TRACKING");
      const app = await launch([join(BENCH, "dirty_rounds"), work, String(mib)], { output });
      Deno.env.delete("AMBER_DIRTY_TRACKING");
      const totals: number[] = [], frozen: number[] = [], gaps: number[] = [];
      let pages = 0, size = 0, tracked = 0;
      try {
        await waitForText(output, "ready");
        let parent: Image = await app.snapshot({ dir: join(work, "0.amber"), timeoutMs: 300_000 });
        for (let round = 1; round <= ROUNDS + 1; round++) {
          await Deno.writeTextFile(join(work, `round${round}`), "");
          await waitForText(output, `written ${round}`);
          const from = (await Deno.stat(output)).size;
          const image = await app.snapshot({
            dir: join(work, `${round}.amber`),
            parent,
            preCopy: mode === "tracking, pre-copy",
            timeoutMs: 300_000,
          });
          await new Promise((resolve) => setTimeout(resolve, 50)); // the last gap printed
          const gap = (await Deno.readTextFile(output)).slice(from).matchAll(/^gap ([\d.]+)$/gm);
          if (round > 2) await Deno.remove(join(work, `${round - 2}.amber`), { recursive: true });
          parent = image;
          const s = image.stats!;
          if (round === 1) continue; // warm-up
          totals.push(s.totalMs);
          frozen.push(s.frozenMs);
          gaps.push(Math.max(0, ...[...gap].map((m) => Number(m[1]))));
          pages = s.pagesWritten, size = s.bytesWritten, tracked = s.trackedRegions;
        }
      } finally {
        await app.kill();
        await Deno.remove(work, { recursive: true }).catch(() => {});
      }
      console.log([
        `${mib} MiB ${mode}`.padEnd(28),
        stats(totals).padEnd(27),
        stats(frozen).padEnd(12),
        stats(gaps).padEnd(12),
        String(pages).padEnd(13),
        (size / 2 ** 20).toFixed(1),
        tracked ? `(${tracked} regions tracked)` : "",
      ].join("  "));
    }
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
