/**
 * How long the command line takes to start: wall time of `amber ps` (no application running)
 * and `amber --help`, beside `deno run` of an empty script (the floor: Deno's own start), each
 * run ROUNDS times, interleaved, median and minimum in ms.
 *
 * Run: `deno run -A bench/cli_start.ts` (ROUNDS=n in the environment; COMPARE=path to another
 * checkout's cli.ts measures it too, interleaved, for a before and after).
 */

import { fileURLToPath } from "node:url";
import { stats } from "./figures.ts";

const ROUNDS = Number(Deno.env.get("ROUNDS") ?? 20);
const cli = fileURLToPath(new URL("../cli.ts", import.meta.url));
const compare = Deno.env.get("COMPARE");
const state = await Deno.makeTempDir({ prefix: "amber-bench-state-" });
const empty = await Deno.makeTempFile({ suffix: ".ts" });

async function wall(args: string[]): Promise<number> {
  const t0 = performance.now();
  const { code } = await new Deno.Command(Deno.execPath(), {
    args,
    env: { AMBER_STATE_DIR: state },
    stdout: "null",
    stderr: "null",
  }).output();
  if (code !== 0) throw new Error(`'deno ${args.join(" ")}' exited with status ${code}`);
  return performance.now() - t0;
}

const runs: [string, string[]][] = [
  ["deno run (empty script)", ["run", "-A", empty]],
  ["amber ps", ["run", "-A", cli, "ps"]],
  ["amber --help", ["run", "-A", cli, "--help"]],
  ...(compare
    ? [
      ["amber ps (COMPARE)", ["run", "-A", compare, "ps"]],
      ["amber --help (COMPARE)", ["run", "-A", compare, "--help"]],
    ] as [string, string[]][]
    : []),
];
const times = runs.map(() => [] as number[]);
try {
  for (const [, args] of runs) await wall(args); // warm-up: Deno's caches filled
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, [, args]] of runs.entries()) times[i].push(await wall(args));
  }
} finally {
  await Deno.remove(state, { recursive: true });
  await Deno.remove(empty);
}
console.log("command                    wall ms (median / min)");
for (const [i, [name]] of runs.entries()) console.log(`${name.padEnd(25)}  ${stats(times[i])}`);
