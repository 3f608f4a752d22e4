/**
 * Why a lazy restore checks its pages' hashes in the background and not as each page is first
 * touched (bench/progs/fault_check.c): the cost of a first touch (a read, then a write) of pages
 * mapped from a file in the page cache, as `--lazy` maps them (the kernel serves the fault), of
 * the same pages served by a userfaultfd handler thread that reads, checks and places each one
 * (the only way to check a page before the program sees it), and of the hash alone; median and
 * minimum of ROUNDS, in ns per page and ms per GiB touched.
 *
 * Run: `deno run -A bench/fault_check.ts [MiB]` (default 256; ROUNDS=n in the environment).
 */

import { join } from "node:path";
import { BENCH, stats } from "./figures.ts";

const ROUNDS = Number(Deno.env.get("ROUNDS") ?? 5);
const mib = Deno.args[0] ?? "256";

const dir = await Deno.makeTempDir({ prefix: "amber-bench-", dir: Deno.cwd() });
try {
  const figures = new Map<string, number[]>();
  for (let round = 0; round < ROUNDS; round++) {
    const out = await new Deno.Command(join(BENCH, "fault_check"), {
      args: [dir, mib],
      stdout: "piped",
    }).output();
    if (!out.success) throw new Error("fault_check failed");
    for (const m of new TextDecoder().decode(out.stdout).matchAll(/^(\w+) (\d+)$/gm)) {
      figures.set(m[1], [...(figures.get(m[1]) ?? []), Number(m[2])]);
    }
  }
  const what: Record<string, string> = {
    mapped: "first touch, mapped from the file (--lazy now)",
    checked: "first touch, served and checked by a userfaultfd thread",
    hash: "the page's XXH64 alone",
  };
  console.log(`${mib} MiB of pages: ns per page (median / min), ms per GiB (median)`);
  for (const [key, values] of figures) {
    const perGiB = [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] * 262144 / 1e6;
    console.log(`${what[key] ?? key}`.padEnd(58), stats(values).padEnd(16), perGiB.toFixed(0));
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
