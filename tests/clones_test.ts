/**
 * Templating: several independent applications from one image, through the API
 * (`restoreClones`) and the command line (`amber restore IMAGE --clones N`).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type App,
  createVne,
  launch,
  list,
  NotImplementedError,
  open,
  removeVne,
  restoreClones,
} from "../mod.ts";
import { amber } from "./cli_support.ts";
import { prog, type Scenario, scenarioTest, sleep } from "./support.ts";
import { freeSubnet } from "./vne_support.ts";

interface Line {
  count: number;
  pid: number;
  child: number;
  host: string;
}

const LINE = /^count (\d+) pid (\d+) child (\d+) host (\S*)$/gm;

async function lines(file: string): Promise<Line[]> {
  const text = await Deno.readTextFile(file).catch(() => "");
  return [...text.matchAll(LINE)].map((m) => ({
    count: Number(m[1]),
    pid: Number(m[2]),
    child: Number(m[3]),
    host: m[4],
  }));
}

/** Waits until `file` has a count of at least `min`; returns its lines. */
async function countedTo(file: string, min: number): Promise<Line[]> {
  for (let i = 0; i < 500; i++) {
    const got = await lines(file);
    if (got.length > 0 && got.at(-1)!.count >= min) return got;
    await sleep(20);
  }
  assert.fail(`${file} did not count to ${min}: ${JSON.stringify((await lines(file)).at(-1))}`);
}

/** A template image of host_counter (hostname "tmpl"), frozen with stop; its last count. */
async function template(s: Scenario): Promise<{ dir: string; last: Line; vpids: number[] }> {
  const original = await launch([prog("host_counter"), "20"], {
    name: s.name("tmpl"),
    hostname: "tmpl",
    output: s.output,
  });
  await countedTo(s.output, 5);
  const vpids = original.processes().map((p) => p.vpid).sort();
  assert.equal(vpids.length, 2, "the counter and its child");
  const image = await s.freeze(original, "template");
  const last = (await lines(s.output)).at(-1)!;
  assert.equal(last.host, "tmpl");
  return { dir: image.dir, last, vpids };
}

/** Each clone counts on from the template's count, under its own hostname and system pids. */
async function checkClones(clones: App[], outputs: string[], last: Line, vpids: number[]) {
  assert.equal(clones.length, 3);
  const systemPids = new Set<number>();
  for (const [i, clone] of clones.entries()) {
    const processes = clone.processes();
    assert.deepEqual(processes.map((p) => p.vpid).sort(), vpids, `${clone.name}'s virtual pids`);
    for (const p of processes) systemPids.add(p.pid);
    const got = await countedTo(outputs[i], last.count + 5);
    assert.ok(
      got[0].count === last.count || got[0].count === last.count + 1,
      `${clone.name} goes on from ${last.count}, not from ${got[0].count}`,
    );
    for (const line of got) {
      assert.deepEqual([line.pid, line.child, line.host], [last.pid, last.child, `tmpl-${i + 1}`]);
    }
  }
  assert.equal(systemPids.size, 3 * vpids.length, "every clone has its own system pids");
}

scenarioTest("restoreClones starts 3 counters that each count on from the image", async (s) => {
  const { dir, last, vpids } = await template(s);
  const outputs = [1, 2, 3].map((i) => join(s.dir, `clone-${i}`));
  const clones = await restoreClones(dir, 3, {
    name: s.name("clone"),
    output: (i) => outputs[i - 1],
  });
  try {
    assert.deepEqual(clones.map((c) => c.name.replace(/^clone-[0-9a-f]+-/, "")), ["1", "2", "3"]);
    await checkClones(clones, outputs, last, vpids);
  } finally {
    for (const clone of clones) await clone.kill().catch(() => {});
  }
});

scenarioTest("amber restore --clones 3 --detach starts and names 3 copies", async (s) => {
  const { dir, last, vpids } = await template(s);
  const base = s.name("cli");
  const out = join(s.dir, "clone");
  const run = await amber(
    s,
    "restore",
    dir,
    "--clones",
    "3",
    "--detach",
    "--name",
    base,
    "--output",
    out,
  );
  const names = new TextDecoder().decode(run.stdout).trim().split("\n");
  const clones: App[] = [];
  try {
    assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
    assert.deepEqual(names, [`${base}-1`, `${base}-2`, `${base}-3`]);
    for (const name of names) clones.push(await open(name));
    await checkClones(clones, [1, 2, 3].map((i) => `${out}.${i}`), last, vpids);
  } finally {
    for (const name of names) await amber(s, "kill", name);
  }
});

scenarioTest("clones of an image in a VNE are refused by name and none is left", async (s) => {
  const vne = s.name("clonevne");
  createVne(vne, `${freeSubnet()}.0/24`);
  try {
    const app = await launch([prog("host_counter"), "20"], {
      name: s.name("invne"),
      output: s.output,
      vne,
    });
    await countedTo(s.output, 2);
    const image = await s.freeze(app);
    const base = s.name("vneclone");
    await assert.rejects(
      restoreClones(image, 2, { name: base, output: join(s.dir, "clone") }),
      (e: Error) =>
        e instanceof NotImplementedError && /is in VNE '.*', and clones in a VNE/.test(e.message),
    );
    assert.deepEqual((await list()).filter((a) => a.name.startsWith(base)), []);
  } finally {
    removeVne(vne);
  }
});
