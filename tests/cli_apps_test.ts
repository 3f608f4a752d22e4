/**
 * The command line on running applications: default image names, and what a run of `amber`
 * leaves behind, also when Ctrl-C interrupts it. Each test launches its program through the API and runs `cli.ts` in a child
 * Deno with the same state directory, in the scenario's folder; every child has a time limit.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { list, restore, RestoreError } from "../mod.ts";
import { amber, leftovers, spawnAmber } from "./cli_support.ts";
import { prog, type Scenario, scenarioTest, sleep } from "./support.ts";

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

/** Polls the scenario's folder until `ready` says so; fails after `ms`. */
async function until(what: string, ready: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ready())) {
    if (Date.now() > deadline) assert.fail(`${what} did not happen within ${ms} ms`);
    await sleep(10);
  }
}

/** The size of the biggest process file in the snapshot's temporary folder, or -1 if none. */
async function writtenSoFar(s: Scenario): Promise<number> {
  const tmp = (await leftovers(s)).find((name) => name.includes(".tmp-"));
  if (!tmp) return -1;
  let biggest = 0;
  try {
    for await (const entry of Deno.readDir(join(s.dir, tmp))) {
      const size = (await Deno.stat(join(s.dir, tmp, entry.name)).catch(() => ({ size: 0 }))).size;
      biggest = Math.max(biggest, size);
    }
  } catch {
    return -1;
  }
  return biggest;
}

const MIB = 1 << 20;

/**
 * Ctrl-C (SIGINT to the CLI) once `reached` holds: the CLI exits with 130 saying it was
 * interrupted, the folder holds no image and no temporary folder, the application ticks on,
 * and a snapshot and restore of it still work.
 */
function interruptTest(
  name: string,
  args: string[],
  point: string,
  reached: (s: Scenario) => Promise<boolean>,
) {
  scenarioTest(name, async (s) => {
    const app = await s.launch([prog("big_counter"), "1024"], "interrupted");
    await s.waitFor(/^tick 1$/m);
    const cli = spawnAmber(s, "snapshot", app.name, ...args);
    await until(point, () => reached(s));
    cli.kill("SIGINT");
    const { code, stderr } = await cli.output();
    const said = new TextDecoder().decode(stderr);
    assert.equal(code, 130, said);
    assert.match(said, /was interrupted: nothing was kept, and the application runs on/);
    assert.deepEqual(await leftovers(s), [], "nothing left in the folder");
    const ticks = async () => (await s.text()).match(/^tick \d+$/gm)?.length ?? 0;
    const before = await ticks();
    await until("ticks after the interruption", async () => (await ticks()) > before + 3, 10_000);
    const image = await s.freeze(app, "after");
    await s.restore(image);
    const frozenAt = await ticks();
    await until("ticks of the restored program", async () => (await ticks()) > frozenAt + 3);
  }, 120_000);
}

interruptTest(
  "Ctrl-C while a snapshot is writing leaves nothing and the application running",
  [],
  "a process file of 64 MiB",
  async (s) => (await writtenSoFar(s)) >= 64 * MIB,
);

interruptTest(
  "Ctrl-C as a snapshot with --stop begins leaves nothing and the application running",
  ["--stop"],
  "the temporary folder",
  async (s) => (await writtenSoFar(s)) >= 0,
);

scenarioTest(
  "a restore whose signal aborts leaves nothing of the application running",
  async (s) => {
    const app = await s.launch([prog("counter"), "20"], "torestore");
    await s.waitFor(/^count 3 /m);
    const image = await s.freeze(app);
    const name = s.name("aborted");
    const out = join(s.dir, "restored-out");
    await assert.rejects(
      restore(image, { name, output: out, signal: AbortSignal.abort() }),
      (e: Error) =>
        e instanceof RestoreError && /was interrupted: nothing of it is left/.test(e.message),
    );
    assert.deepEqual((await list()).filter((a) => a.name === name), []);
    const printed = await Deno.readTextFile(out).catch(() => "");
    await sleep(300);
    assert.equal(await Deno.readTextFile(out).catch(() => ""), printed, "no restored counter runs");
  },
);
