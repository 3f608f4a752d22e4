/**
 * Every figure of the snapshot and restore targets, in one run, beside its target and this
 * machine's limits measured in the same run: for each size, of random data, of zero data, and
 * an incremental snapshot after 1% of the random data was written (every 100th page),
 *
 * - snapshot total: from the call to the image complete and durable (fdatasync'd); target
 *   within 1.5x the time the image's bytes take at this machine's sequential write speed (1 GiB
 *   written and fdatasync'd, through the page cache or O_DIRECT, whichever is faster: the
 *   snapshot's pre-copy writes O_DIRECT, and the total includes its sync too), and, read as a
 *   speed ("snapshot vs memory"), within 1.5x the time the application's memory takes at that
 *   speed: where little is written (zero data, 1%) the first is the time to read the memory,
 *   which no write limit bounds, and the second is what a user compares with writing it all;
 * - frozen: the longest gap in a counter the application runs flat out (bench/progs/gap_counter.c)
 *   during the snapshot; target under 20 ms per GiB, and never above 50 ms; beside it the
 *   longest gap in as long a time without a snapshot (what the machine's scheduler alone costs);
 * - image size; target for zero data under 1 MiB per GiB;
 * - restore to running, eager (beside the time to copy the memory once at memory speed) and
 *   lazy (target under 50 ms at any size), from the last full image, the original ended.
 *
 * Each figure is the median / minimum of ROUNDS after a warm-up round; a target met is marked
 * "ok", one missed "MISSED".
 *
 * Run: `deno run -A bench/issue_targets.ts [MiB...]` (default 256 1024; `make bench` runs that;
 * `deno run -A bench/issue_targets.ts 8192` for 8 GiB, which needs some 17 GiB of memory free
 * and as much disk; ROUNDS=n in the environment, default 3).
 */

import { join } from "node:path";
import { type Image, launch, restore } from "../mod.ts";
import {
  BENCH,
  limitSpeeds,
  longestGap,
  median,
  stats,
  waitForText,
  writeLimit,
} from "./figures.ts";

const ROUNDS = Number(Deno.env.get("ROUNDS") ?? 3);
const sizes = Deno.args.length ? Deno.args.map(Number) : [256, 1024];

/** What one case (a size, and its data) measured. */
interface Figures {
  total: number[];
  gap: number[];
  idle: number[];
  bytes: number;
  eager: number[];
  lazy: number[];
}

const newFigures = (): Figures => ({ total: [], gap: [], idle: [], bytes: 0, eager: [], lazy: [] });

const imageBytes = (image: Image) => image.manifest.files.reduce((sum, f) => sum + f.size, 0);

/**
 * One snapshot of the counter at `output`: its total, the counter's longest gap during it and
 * in as long a time after it, into `f` unless `warmUp`.
 */
async function snapshotOnce(
  snap: () => Promise<Image>,
  output: string,
  f: Figures,
  warmUp: boolean,
): Promise<Image> {
  let from = (await Deno.stat(output)).size;
  const t0 = performance.now();
  const image = await snap();
  const total = performance.now() - t0;
  await new Promise((resolve) => setTimeout(resolve, 50)); // the last gap printed
  const gap = await longestGap(output, from);
  from = (await Deno.stat(output)).size;
  await new Promise((resolve) => setTimeout(resolve, Math.min(total, 2_000)));
  const idle = await longestGap(output, from);
  f.bytes = imageBytes(image);
  if (!warmUp) f.total.push(total), f.gap.push(gap), f.idle.push(idle);
  return image;
}

/** Eager and lazy restores of `image` to running, each ended before the next. */
async function restores(image: Image, output: string, f: Figures): Promise<void> {
  for (const lazy of [false, true]) {
    for (let round = 0; round <= ROUNDS; round++) {
      const name = `bench-targets-${lazy ? "lazy" : "eager"}-${round}`;
      const t0 = performance.now();
      const app = await restore(image, { name, output, lazy, timeoutMs: 600_000 });
      const took = performance.now() - t0;
      await app.kill();
      if (round > 0) (lazy ? f.lazy : f.eager).push(took);
    }
  }
}

/** Full snapshots of `mib` MiB of `data`, then (random data) incremental ones, then restores. */
async function measure(dir: string, mib: number, data: "random" | "zero") {
  const work = join(dir, `${mib}-${data}`);
  await Deno.mkdir(work);
  const output = join(work, "out");
  const full = newFigures(), incremental = newFigures();
  const app = await launch([join(BENCH, "gap_counter"), String(mib), data, work], { output });
  let last: Image | undefined;
  try {
    await waitForText(output, "ready");
    for (let round = 0; round <= ROUNDS; round++) {
      const at = join(work, `full-${round}`);
      const image = await snapshotOnce(
        () => app.snapshot({ dir: at, timeoutMs: 600_000 }),
        output,
        full,
        round === 0,
      );
      if (last) await Deno.remove(last.dir, { recursive: true });
      last = image;
    }
    if (data === "random") {
      let parent = last!;
      for (let round = 0; round <= ROUNDS; round++) {
        await Deno.writeTextFile(join(work, `round${round + 1}`), "");
        await waitForText(output, `written ${round + 1}`);
        const at = join(work, `incremental-${round}`);
        parent = await snapshotOnce(
          () => app.snapshot({ dir: at, parent, timeoutMs: 600_000 }),
          output,
          incremental,
          round === 0,
        );
      }
    }
  } finally {
    await app.kill();
  }
  await restores(last!, output, full);
  await Deno.remove(work, { recursive: true });
  return data === "random" ? { full, incremental } : { full };
}

/** "median / min" and whether the median meets `target` (at most). */
function versus(values: number[], target: number, digits = 0): string {
  const mark = median(values) <= target ? "ok" : "MISSED";
  return `${stats(values)} (≤ ${target.toFixed(digits)} ${mark})`;
}

const dir = await Deno.makeTempDir({ prefix: "amber-bench-", dir: Deno.cwd() });
try {
  const speeds = await limitSpeeds(dir);
  const write = writeLimit(speeds), memcpy = speeds.memcpy?.median ?? NaN;
  console.log(
    `limits: memory copy ${speeds.memcpy?.median} / ${speeds.memcpy?.max} MB/s, sequential ` +
      `write with fdatasync ${speeds.write?.median} / ${speeds.write?.max} MB/s, the same ` +
      `O_DIRECT ${speeds.direct?.median ?? "-"} / ${speeds.direct?.max ?? "-"} MB/s ` +
      `(median / max; the write limit is the faster median, ${write} MB/s)`,
  );
  console.log(`load average: ${Deno.loadavg().map((n) => n.toFixed(1)).join(", ")}`);
  const rows: string[][] = [[
    "case",
    "snapshot ms (target)",
    "write limit ms",
    "snapshot vs memory (target)",
    "frozen ms (target)",
    "idle gap ms",
    "image MiB",
    "eager restore ms (memcpy ms)",
    "lazy restore ms (target)",
  ]];
  for (const mib of sizes) {
    const gib = mib / 1024;
    const frozenTarget = Math.min(20 * gib, 50);
    const memoryWriteMs = mib * 2 ** 20 / 1e6 / write * 1000;
    for (const data of ["random", "zero"] as const) {
      const measured = await measure(dir, mib, data);
      for (const [kind, f] of Object.entries(measured)) {
        const writeMs = f.bytes / 1e6 / write * 1000;
        const size = (f.bytes / 2 ** 20).toFixed(2);
        rows.push([
          `${mib} MiB ${data}${kind === "incremental" ? ", 1% written" : ""}`,
          versus(f.total, Math.max(1.5 * writeMs, 1)),
          writeMs.toFixed(0),
          versus(f.total, 1.5 * memoryWriteMs),
          versus(f.gap, frozenTarget),
          stats(f.idle),
          data === "zero"
            ? `${size} (≤ ${gib.toFixed(2)} ${f.bytes <= gib * 2 ** 20 ? "ok" : "MISSED"})`
            : size,
          f.eager.length
            ? `${stats(f.eager)} (${(mib * 2 ** 20 / 1e6 / memcpy * 1000).toFixed(0)})`
            : "-",
          f.lazy.length ? versus(f.lazy, 50) : "-",
        ]);
      }
    }
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i])).join("  "));
} finally {
  await Deno.remove(dir, { recursive: true });
}
