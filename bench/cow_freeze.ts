/**
 * How long a snapshot that lets the application run on freezes it, as the application sees it:
 * the longest gap in a counter it runs as fast as it can (bench/progs/gap_counter.c), for 256 MiB,
 * 1 GiB and 8 GiB of random data, in four ways: pre-copy (the default: the pages copied while it
 * runs, the freeze writes only those written since), pre-copy without copy-on-write (what is
 * left written frozen, as `stop` does), and the old paths with pre-copy off:
 * copy-on-write (frozen to capture and fork a copy that writes the pages) and a frozen write
 * (frozen until every page is written). Beside it, the coordinator's frozen time (from the
 * request to the application let go), the whole snapshot's time (image complete and durable),
 * and the longest gap the counter sees in as long a time without a snapshot (what the machine's
 * scheduler alone costs). The targets: frozen under 20 ms per GiB, and never above 50 ms.
 *
 * Run: `deno run -A bench/cow_freeze.ts [--mode=NAME...] [MiB...]` (8 GiB needs some 17 GiB
 * of memory free, and as much disk for one image at a time: a size the machine has not the
 * memory for is skipped, said so). `--mode=pre-copy` measures that way alone (`make bench` runs
 * 8 GiB so); `AMBER_FREEZE_TIMES=1` in the environment says where each freeze went
 * (docs/snapshot-protocol.md, "Pre-copy").
 */

import { join } from "node:path";
import { type App, launch } from "../mod.ts";
import { BENCH, longestGap, printLimits, stats, waitForText } from "./figures.ts";

const modeArgs = Deno.args.filter((a) => a.startsWith("--mode=")).map((a) => a.slice(7));
const sizeArgs = Deno.args.filter((a) => !a.startsWith("--mode="));
const sizes = sizeArgs.length ? sizeArgs.map(Number) : [256, 1024, 8192];

interface Figures {
  gap: number[];
  frozen: number[];
  total: number[];
  idle: number[];
}

/** The ways compared, each with the snapshot options it takes. */
const MODES = {
  "pre-copy": { preCopy: true, copyOnWrite: true },
  "pre-copy frozen": { preCopy: true, copyOnWrite: false },
  "copy-on-write": { preCopy: false, copyOnWrite: true },
  "frozen write": { preCopy: false, copyOnWrite: false },
} as const;
type Mode = keyof typeof MODES;
const modes = (Object.keys(MODES) as Mode[]).filter((m) =>
  !modeArgs.length || modeArgs.includes(m)
);
if (modeArgs.some((m) => !(m in MODES))) {
  throw new Error(`--mode: one of ${Object.keys(MODES).join(", ")}`);
}

/** Whether the machine has the memory for `mib` (the program's, its copy-on-write copy's). */
async function memoryFor(mib: number): Promise<boolean> {
  const info = await Deno.readTextFile("/proc/meminfo");
  const kib = Number(/^MemAvailable:\s+(\d+)/m.exec(info)?.[1] ?? 0);
  return kib / 1024 >= mib * 2 + 1024;
}

async function measure(dir: string, mib: number, rounds: number) {
  const output = join(dir, `out-${mib}`);
  const app: App = await launch([join(BENCH, "gap_counter"), String(mib)], { output });
  const figures = {} as Record<Mode, Figures>;
  try {
    await waitForText(output, "ready");
    for (const mode of modes) {
      figures[mode] = { gap: [], frozen: [], total: [], idle: [] };
    }
    for (let round = 0; round <= rounds; round++) {
      for (const mode of modes) {
        const imageDir = join(dir, `image-${mib}-${round}`);
        let from = (await Deno.stat(output)).size;
        const t0 = performance.now();
        const image = await app.snapshot({ dir: imageDir, ...MODES[mode], timeoutMs: 300_000 });
        const total = performance.now() - t0;
        await new Promise((resolve) => setTimeout(resolve, 50)); // the last gap printed
        const gap = await longestGap(output, from);
        await Deno.remove(imageDir, { recursive: true });
        // As long without a snapshot: what the scheduler alone costs the counter.
        from = (await Deno.stat(output)).size;
        await new Promise((resolve) => setTimeout(resolve, Math.min(total, 5_000)));
        const idle = await longestGap(output, from);
        if (round === 0) continue; // warm-up
        const f = figures[mode];
        f.gap.push(gap), f.frozen.push(image.stats?.frozenMs ?? 0), f.total.push(total);
        f.idle.push(idle);
      }
    }
  } finally {
    await app.kill();
  }
  return figures;
}

const dir = await Deno.makeTempDir({ prefix: "amber-bench-", dir: Deno.cwd() });
try {
  await printLimits(dir);
  console.log(
    "memory    mode            app's longest gap ms   coordinator frozen ms   snapshot ms   " +
      "idle gap ms   (median / min)",
  );
  for (const mib of sizes) {
    if (!(await memoryFor(mib))) {
      console.log(`${String(mib).padStart(5)} MiB skipped: not as much memory free as it takes`);
      continue;
    }
    const figures = await measure(dir, mib, mib >= 4096 ? 2 : 3);
    for (const [mode, f] of Object.entries(figures)) {
      console.log(
        `${String(mib).padStart(5)} MiB ${mode.padEnd(15)} ${stats(f.gap).padStart(20)}   ` +
          `${stats(f.frozen).padStart(21)}   ${stats(f.total).padStart(11)}   ${
            stats(f.idle).padStart(11)
          }`,
      );
    }
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
