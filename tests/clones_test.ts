/**
 * Templating: several independent applications from one image, through the API
 * (`restoreClones`) and the command line (`amber restore IMAGE --clones N`).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { type App, createVne, getVne, launch, open, restore, restoreClones } from "../mod.ts";
import { amber } from "./cli_support.ts";
import { prog, type Scenario, scenarioTest, sleep } from "./support.ts";
import { freeSubnet, type Scene, sceneTest, unique } from "./vne_support.ts";

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
  await assert.rejects(
    restoreClones(dir, 2, { ips: "10.1.1.1-10.1.1.5" }),
    (e: Error) => e instanceof RangeError && /it is in no VNE/.test(e.message),
  );
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

/** A VNE with a fresh /24, removed with the scene; its name and "10.x.y" prefix. */
function cloneVne(s: Scene): [string, string] {
  const name = unique("clonevne");
  const net = freeSubnet();
  createVne(name, `${net}.0/24`);
  s.vnes.push(name);
  return [name, net];
}

/** A template image of vne_app serving on port 8080 of `net`.7 (hostname "srv"), frozen with stop. */
async function vneTemplate(s: Scene, vne: string, net: string): Promise<[string, number[]]> {
  const [app, out] = await s.launch([prog("vne_app"), "8080"], "tmpl", {
    vne,
    ip: `${net}.7`,
    hostname: "srv",
  });
  await s.waitFor(out, /^ready$/m);
  const vpids = app.processes().map((p) => p.vpid).sort();
  const image = await app.snapshot({ dir: join(s.dir, "srv.amber"), stop: true });
  return [image.dir, vpids];
}

/** From a new member of the VNE at `net`.`host`: the line the server at ip:8080 answers. */
async function probe(s: Scene, vne: string, net: string, host: number, ip: string) {
  const [, out] = await s.launch([prog("vne_probe"), ip, "8080"], `probe${host}`, {
    vne,
    ip: `${net}.${host}`,
  });
  const text = await s.waitFor(out, /^(connected|error)/m);
  return text.trim();
}

sceneTest(
  "restoreClones of a VNE server: 3 copies, each serving at its own virtual IP",
  async (s) => {
    const [vne, net] = cloneVne(s);
    const [dir, vpids] = await vneTemplate(s, vne, net);
    const clones = await restoreClones(dir, 3, {
      name: unique("srv"),
      ips: `${net}.20-${net}.29`,
      output: (i) => join(s.dir, `clone-${i}.out`),
    });
    s.apps.push(...clones);
    assert.deepEqual(clones.map((c) => [c.ip, c.hostname, c.vne]), [
      [`${net}.20`, "srv-1", vne],
      [`${net}.21`, "srv-2", vne],
      [`${net}.22`, "srv-3", vne],
    ]);
    const systemPids = new Set<number>();
    for (const clone of clones) {
      const processes = clone.processes();
      assert.deepEqual(processes.map((p) => p.vpid).sort(), vpids, `${clone.name}'s virtual pids`);
      for (const p of processes) systemPids.add(p.pid);
    }
    assert.equal(systemPids.size, 3 * vpids.length, "every clone has its own system pids");
    const info = getVne(vne);
    assert.deepEqual(
      info.members.map((m) => [m.app, m.ip, m.hostname]),
      clones.map((c) => [c.name, c.ip, c.hostname]),
    );
    const real = clones.map((c) => info.addresses.find((a) => a.ip === c.ip && a.port === 8080));
    assert.equal(new Set(real.map((a) => a?.realPort)).size, 3, JSON.stringify(info.addresses));
    // Each answers at its own address, from its own memory (its first connection: the server
    // read its hostname before it was frozen, so it says "srv"); the prober sees its own
    // virtual address as the peer. Each clone's hostname resolves to its own address.
    for (const [i, clone] of clones.entries()) {
      assert.match(
        await probe(s, vne, net, 40 + i, clone.ip!),
        new RegExp(`^connected app 1 from ${net}\\.${40 + i}:\\d+ on srv$`),
      );
    }
    assert.match(await probe(s, vne, net, 45, "srv-3"), /^connected app 2 from /);
    assert.equal(
      await probe(s, vne, net, 50, `${net}.7`),
      "error EHOSTUNREACH",
      "the original's IP",
    );
    // A clone snapshots and restores at its own address, with its own memory (a second cycle).
    const image = await clones[1].snapshot({ dir: join(s.dir, "srv-2.amber"), stop: true });
    assert.equal(await probe(s, vne, net, 46, clones[1].ip!), "error EHOSTUNREACH");
    const again = await restore(image, { name: unique("srv-2-again") });
    s.apps.push(again);
    assert.deepEqual(again.processes().map((p) => p.vpid).sort(), vpids);
    assert.match(
      await probe(s, vne, net, 47, `${net}.21`),
      new RegExp(`^connected app 2 from ${net}\\.47:\\d+ on srv$`),
    );
  },
);

sceneTest("amber restore --clones 2 --ips in a VNE prints each clone's address", async (s) => {
  const [vne, net] = cloneVne(s);
  const [dir] = await vneTemplate(s, vne, net);
  const base = unique("cli");
  const run = await amber(
    s,
    "restore",
    dir,
    "--clones",
    "2",
    "--ips",
    `${net}.30-${net}.39`,
    "--detach",
    "--json",
    "--name",
    base,
    "--output",
    join(s.dir, "clone"),
  );
  const text = new TextDecoder().decode(run.stdout);
  const listed: { name: string; ip: string; hostname: string }[] = run.code === 0
    ? JSON.parse(text)
    : [];
  for (const { name } of listed) s.apps.push(await open(name));
  assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
  assert.deepEqual(listed.map((c) => [c.name, c.ip, c.hostname]), [
    [`${base}-1`, `${net}.30`, "srv-1"],
    [`${base}-2`, `${net}.31`, "srv-2"],
  ]);
  assert.match(await probe(s, vne, net, 41, `${net}.31`), /^connected app 1 from .* on srv$/);
  const none = await amber(
    s,
    "restore",
    dir,
    "--clones",
    "2",
    "--ips",
    `${net}.30-${net}.31`,
    "--name",
    unique("full"),
  );
  assert.equal(none.code, 1);
  assert.match(new TextDecoder().decode(none.stderr), /has only 0 free/);
});
