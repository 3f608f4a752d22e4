/**
 * Running `amber` from a test on applications the test launched: the child Deno runs `cli.ts`
 * in the scenario's folder, with the test's state directory, under a time limit.
 */

import { fileURLToPath } from "node:url";
import type { Scenario } from "./support.ts";

const CLI = fileURLToPath(new URL("../cli.ts", import.meta.url));
const CHILD_LIMIT_MS = 60_000;

function command(s: Pick<Scenario, "dir">, args: string[]): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", CLI, ...args],
    cwd: s.dir,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(CHILD_LIMIT_MS),
  });
}

/** Runs `amber ARGS...` in the scenario's folder; the child is killed if it outlives its limit. */
export async function amber(
  s: Pick<Scenario, "dir">,
  ...args: string[]
): Promise<Deno.CommandOutput> {
  return await command(s, args).output();
}

/** Starts `amber ARGS...` in the scenario's folder, to signal it while it runs; time-limited. */
export function spawnAmber(s: Scenario, ...args: string[]): Deno.ChildProcess {
  return command(s, args).spawn();
}

/** The image folders (and anything else ending in .amber or holding .tmp-) in the scenario's folder. */
export async function leftovers(s: Scenario): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(s.dir)) {
    if (/\.amber$|\.tmp-/.test(entry.name)) names.push(entry.name);
  }
  return names.sort();
}
