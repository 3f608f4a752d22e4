/**
 * The seccomp layer's cost per call (docs/seccomp.md): bench/progs/raw_call_cost.c runs plain,
 * under Amber with the layer off (`seccomp: "off"`) and with it on, and this prints
 * nanoseconds per call (minimum of rounds) for each. A call the filter does not watch (read)
 * pays only the filter's run; a trapped raw call pays a SIGSYS round trip and its translation.
 *
 * Run: `make bench`, or `deno run -A bench/seccomp_cost.ts`.
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { launch } from "../mod.ts";

const PROG = fileURLToPath(new URL("../build/bench/raw_call_cost", import.meta.url));

/** Per call: the minimum over rounds, the steadiest figure on a shared computer. */
type Figures = Map<string, number>;

function parse(text: string): Figures {
  return new Map(
    [...text.matchAll(/^(\w+) ([\d.]+) ([\d.]+)$/gm)].map((m) => [m[1], Number(m[3])]),
  );
}

async function plain(): Promise<Figures> {
  const out = await new Deno.Command(PROG, { stdout: "piped" }).output();
  return parse(new TextDecoder().decode(out.stdout));
}

async function underAmber(layer: "on" | "off"): Promise<Figures> {
  const dir = await Deno.makeTempDir({ prefix: "amber-bench-" });
  try {
    const output = join(dir, "out");
    const app = await launch([PROG], { output, seccomp: layer });
    await app.wait();
    return parse(await Deno.readTextFile(output));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

await plain(); // warm up
const base = await plain();
const off = await underAmber("off");
const on = await underAmber("on");
console.log("call              plain ns   Amber, layer off   Amber, layer on   added by the layer");
for (const [name, p] of base) {
  const a = off.get(name) ?? NaN, b = on.get(name) ?? NaN;
  console.log(
    [
      name.padEnd(16),
      p.toFixed(1).padStart(8),
      a.toFixed(1).padStart(18),
      b.toFixed(1).padStart(17),
      (b - a).toFixed(1).padStart(20),
    ].join("  "),
  );
}
