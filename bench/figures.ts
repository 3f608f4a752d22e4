/**
 * What the memory benchmarks share: the median and minimum of a series, waiting for a program to
 * say something, and this machine's limits (memory copy and sequential write speed, measured by
 * `build/bench/limits` in the same run).
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type App, launch, type LaunchOptions } from "../mod.ts";

export const BENCH = fileURLToPath(new URL("../build/bench/", import.meta.url));

/** "median / min" of the values, in whole units. */
export function stats(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  return `${sorted[Math.floor(sorted.length / 2)].toFixed(0)} / ${sorted[0].toFixed(0)}`;
}

/** Waits (up to a minute) until the file at `path` holds `text`. */
export async function waitForText(path: string, text: string): Promise<void> {
  for (let i = 0; i < 6000; i++) {
    const content = await Deno.readTextFile(path).catch(() => "");
    if (content.includes(text)) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`'${path}' never said '${text}'`);
}

/**
 * This machine's memory copy and sequential write speeds in MB/s, median and max of its rounds:
 * through the page cache ("write") and straight to the disk ("direct", null where the file
 * system refuses O_DIRECT), each ending with fdatasync.
 */
export async function limitSpeeds(
  dir: string,
): Promise<Record<"memcpy" | "write" | "direct", { median: number; max: number } | null>> {
  const out = await new Deno.Command(join(BENCH, "limits"), { args: [dir], stdout: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout);
  const line = (name: string) => {
    const m = text.match(new RegExp(`^${name} (\\d+) (\\d+)$`, "m"));
    return m ? { median: Number(m[1]), max: Number(m[2]) } : null;
  };
  return { memcpy: line("memcpy"), write: line("write"), direct: line("direct") };
}

/**
 * The disk write limit in MB/s (median): the faster of a write through the page cache and one
 * straight to the disk, each made durable, since a snapshot writes its pages either way.
 */
export function writeLimit(
  speeds: Record<"write" | "direct", { median: number; max: number } | null>,
): number {
  return Math.max(speeds.write?.median ?? NaN, speeds.direct?.median ?? 0);
}

/** This machine's memory copy and sequential write speeds ("median / max MB/s"). */
export async function limits(dir: string): Promise<{ memcpy: string; write: string }> {
  const speeds = await limitSpeeds(dir);
  const text = (speed: { median: number; max: number } | null) =>
    speed ? `${speed.median} / ${speed.max} MB/s` : "unknown";
  return { memcpy: text(speeds.memcpy), write: text(speeds.write) };
}

/** Prints this machine's limits (both, or the one named) beside a benchmark's figures. */
export async function printLimits(
  dir: string,
  only?: "memcpy" | "write",
): Promise<{ memcpy: string; write: string }> {
  const limit = await limits(dir);
  if (only !== "write") console.log(`memory copy speed (median / max): ${limit.memcpy}`);
  if (only !== "memcpy") {
    console.log(`sequential write speed with fdatasync (median / max): ${limit.write}`);
  }
  return limit;
}

/** The longest "gap <ms>" a counter (bench/progs/gap_counter.c) printed in `output` after offset `from`. */
export async function longestGap(output: string, from: number): Promise<number> {
  const text = (await Deno.readTextFile(output)).slice(from);
  return Math.max(0, ...[...text.matchAll(/^gap ([\d.]+)$/gm)].map((m) => Number(m[1])));
}

/** The median of `values`. */
export function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
}

/**
 * Launches `bench/progs/<prog> <mib>` under Amber (its output in `dir`), waits for its "ready",
 * then calls `round` for rounds 0 (a warm-up, whose figures the caller drops) to `rounds`, and
 * ends the program whatever happens.
 */
export async function benchRounds(
  dir: string,
  prog: string,
  mib: number,
  rounds: number,
  round: (app: App, output: string, n: number) => Promise<void>,
): Promise<void> {
  const output = join(dir, `out-${mib}`);
  const app = await launch([join(BENCH, prog), String(mib)], { output });
  try {
    await waitForText(output, "ready");
    for (let n = 0; n <= rounds; n++) await round(app, output, n);
  } finally {
    await app.kill();
  }
}

/** What a program prints when it runs on its own. */
export async function plainOutput(program: string): Promise<string> {
  const out = await new Deno.Command(program, { stdout: "piped" }).output();
  return new TextDecoder().decode(out.stdout);
}

/** What a program prints when it runs under Amber, launched with `options`, to its end. */
export async function amberOutput(
  program: string,
  options: LaunchOptions = {},
  args: string[] = [],
): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "amber-bench-" });
  try {
    const output = join(dir, "out");
    const app = await launch([program, ...args], { ...options, output });
    await app.wait();
    return await Deno.readTextFile(output);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
