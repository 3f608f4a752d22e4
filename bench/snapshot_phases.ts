/**
 * Where a snapshot's total goes, phase by phase, for N MiB of data (bench/progs/gap_counter.c),
 * beside the write limit measured in the same run (build/bench/limits, figures.ts writeLimit):
 * pre-copy, frozen until resumed, written (the copy or helper done), checked, synced, hashed,
 * renamed; each the median / minimum of ROUNDS after a warm-up round, counted from the call.
 *
 * Run: `deno run -A bench/snapshot_phases.ts [MiB...]` (default 1024; ROUNDS=n, default 3;
 * DATA=zero for zero data).
 */

import { join } from "node:path";
import { launch } from "../mod.ts";
import { BENCH, limitSpeeds, median, stats, waitForText, writeLimit } from "./figures.ts";

const ROUNDS = Number(Deno.env.get("ROUNDS") ?? 3);
const sizes = Deno.args.length ? Deno.args.map(Number) : [1024];
const data = Deno.env.get("DATA") === "zero" ? "zero" : "random";

Deno.env.set("AMBER_FREEZE_TIMES", "1");
const lines: string[] = [];
const print = console.error;
console.error = (...args: unknown[]) => {
  const text = args.map(String).join(" ");
  if (text.startsWith("amber: snapshot times (ms): ")) lines.push(text.slice(28));
  else print(...args);
};

const dir = await Deno.makeTempDir({ prefix: "amber-bench-", dir: Deno.cwd() });
try {
  const speeds = await limitSpeeds(dir);
  const write = writeLimit(speeds);
  console.log(
    `write with fdatasync: ${speeds.write?.median} / ${speeds.write?.max} MB/s, O_DIRECT ` +
      `${speeds.direct?.median ?? "-"} / ${speeds.direct?.max ?? "-"} MB/s (median / max)`,
  );
  for (const mib of sizes) {
    const output = join(dir, `out-${mib}`);
    const app = await launch([join(BENCH, "gap_counter"), String(mib), data], { output });
    const phases = new Map<string, number[]>();
    const totals: number[] = [];
    let bytes = 0;
    try {
      await waitForText(output, "ready");
      for (let round = 0; round <= ROUNDS; round++) {
        const at = join(dir, `image-${round}`);
        lines.length = 0;
        const t0 = performance.now();
        const image = await app.snapshot({ dir: at, timeoutMs: 600_000 });
        const total = performance.now() - t0;
        bytes = image.manifest.files.reduce((sum, f) => sum + f.size, 0);
        await Deno.remove(at, { recursive: true });
        if (round === 0) continue;
        totals.push(total);
        for (const [, name, ms] of (lines[0] ?? "").matchAll(/([^,]+?) ([\d.]+)(?:,|$)/g)) {
          phases.set(name.trim(), [...(phases.get(name.trim()) ?? []), Number(ms)]);
        }
      }
    } finally {
      await app.kill();
    }
    const limitMs = bytes / 1e6 / write * 1000;
    console.log(
      `${mib} MiB ${data}: image ${(bytes / 2 ** 20).toFixed(0)} MiB, write limit ${
        limitMs.toFixed(0)
      } ms, total ${stats(totals)} ms (${(median(totals) / limitMs).toFixed(2)}x); load ${
        Deno.loadavg().map((n) => n.toFixed(1)).join(", ")
      }`,
    );
    for (const [name, values] of phases) {
      console.log(`  ${name}: ${stats(values)} ms from the call`);
    }
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
