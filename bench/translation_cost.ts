/**
 * The added cost of a translated call: bench/progs/call_cost.c runs plain, then under Amber,
 * and this prints nanoseconds per call for each, median and minimum over rounds, and the
 * difference. getpid() under Amber answers from the library's memory, so it is cheaper than
 * the system call it replaces. getsockopt and recvmsg (here a byte written then received) are
 * hot calls whose wrappers look only for the rare pid-carrying cases (SO_PEERCRED, control data).
 * "mutex" and "recursive" are a lock and unlock of a plain and of a recursive mutex: the wrappers
 * pass the plain one straight through and list the recursive one (csrc/preload/wrappers/owned_locks.c).
 *
 * Run: `make bench`, or `deno run -A bench/translation_cost.ts`.
 */

import { join } from "node:path";
import { amberOutput, BENCH, plainOutput } from "./figures.ts";

type Figures = Map<string, { median: number; min: number }>;

function parse(text: string): Figures {
  return new Map(
    [...text.matchAll(/^(\w+) ([\d.]+) ([\d.]+)$/gm)].map((m) => [
      m[1],
      { median: Number(m[2]), min: Number(m[3]) },
    ]),
  );
}

async function plain(): Promise<Figures> {
  return parse(await plainOutput(join(BENCH, "call_cost")));
}

async function underAmber(): Promise<Figures> {
  return parse(await amberOutput(join(BENCH, "call_cost")));
}

await plain(); // warm up
const base = await plain();
const amber = await underAmber();
console.log("call        plain ns (median / min)   under Amber ns (median / min)   added (median)");
for (const [name, p] of base) {
  const a = amber.get(name);
  if (!a) continue;
  const cells = [
    name.padEnd(10),
    `${p.median.toFixed(1)} / ${p.min.toFixed(1)}`.padEnd(26),
    `${a.median.toFixed(1)} / ${a.min.toFixed(1)}`.padEnd(31),
    `${(a.median - p.median).toFixed(1)}`,
  ];
  console.log(cells.join("  "));
}
