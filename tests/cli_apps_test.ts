/**
 * The command line on running applications: default image names, and what a run of `amber`
 * leaves behind. Each test launches its program through the API and runs `cli.ts` in a child
 * Deno with the same state directory, in the scenario's folder; every child has a time limit.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { prog, type Scenario, scenarioTest } from "./support.ts";

const CLI = fileURLToPath(new URL("../cli.ts", import.meta.url));
const CHILD_LIMIT_MS = 60_000;

/** Runs `amber ARGS...` in the scenario's folder; the child is killed if it outlives its limit. */
export async function amber(s: Scenario, ...args: string[]): Promise<Deno.CommandOutput> {
  return await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", CLI, ...args],
    cwd: s.dir,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(CHILD_LIMIT_MS),
  }).output();
}

/** The image folders (and anything else ending in .amber or holding .tmp-) in the scenario's folder. */
export async function leftovers(s: Scenario): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(s.dir)) {
    if (/\.amber$|\.tmp-/.test(entry.name)) names.push(entry.name);
  }
  return names.sort();
}

scenarioTest("two snapshots of one application started at once get different names", async (s) => {
  const app = await s.launch([prog("counter"), "20"], "names");
  await s.waitFor(/^count 2 /m);
  const [one, two] = await Promise.all([
    amber(s, "snapshot", app.name),
    amber(s, "snapshot", app.name),
  ]);
  const decoder = new TextDecoder();
  for (const run of [one, two]) {
    assert.equal(run.code, 0, `amber snapshot failed:\n${decoder.decode(run.stderr)}`);
  }
  const images = await leftovers(s);
  assert.equal(images.length, 2, `two images: ${images.join(", ")}`);
  for (const image of images) {
    assert.match(image, new RegExp(`^${app.name}-\\d{8}-\\d{6}-\\d{3}-[0-9a-f]{4}\\.amber$`));
    await Deno.stat(join(s.dir, image, "manifest.json"));
  }
});
