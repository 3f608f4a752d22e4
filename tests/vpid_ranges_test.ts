/**
 * Each application has its own range of virtual pids (src/vpid_range.ts): two that run at once
 * never have the same pid, so the files programs name by their pid in a shared directory (a
 * JVM's hsperfdata, pid and lock files) do not collide; a restore keeps its image's range, an
 * image made before ranges were per application (table version 5) included; clones of one
 * image share theirs, and are named as such.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { TablesVersion } from "../ffi/contract.ts";
import { createTable, fileHash, VpidRanges } from "../ffi/control.ts";
import { App } from "../mod.ts";
import { newAppId } from "../src/names.ts";
import { makeAppDir, stateDir, TABLES_FILE } from "../src/paths.ts";
import { Supervisor } from "../src/supervisor.ts";
import { sharedVpidsWarning, sharingVpids, vpidRangeHolders } from "../src/vpid_range.ts";
import { amber } from "./cli_support.ts";
import { prog, type Scenario, scenarioTest } from "./support.ts";

/** The virtual pids an application's processes have, and whether all are in its range. */
function vpids(app: App): { base: number; pids: number[]; inRange: boolean } {
  const base = app.info().vpidBase;
  const pids = app.processes().map((p) => p.vpid);
  return { base, pids, inRange: pids.every((p) => p > base && p < base + VpidRanges.SIZE) };
}

/** "TAG ready ROOT CHILD": the pids the program's two processes read from getpid. */
async function ready(s: Scenario, tag: string): Promise<number[]> {
  const text = await s.waitFor(new RegExp(`^${tag} ready \\d+ \\d+$`, "m"), `${tag} ready`);
  const [, root, child] = text.match(new RegExp(`^${tag} ready (\\d+) (\\d+)$`, "m"))!;
  return [Number(root), Number(child)];
}

async function go(s: Scenario, tag: string): Promise<void> {
  await Deno.writeTextFile(join(s.dir, `${tag}-go`), "");
  await s.waitFor(new RegExp(`^${tag} PASS$`, "m"), `${tag} PASS`);
}

scenarioTest(
  "two applications at once have disjoint virtual pids: their pid-named files in one directory do not collide, and a restore keeps the pids",
  async (s) => {
    const shared = join(s.dir, "shared");
    await Deno.mkdir(shared);
    const argv = (tag: string) => [prog("pid_files"), shared, s.dir, tag];
    const [a, b] = await Promise.all([
      s.launch(argv("A"), "pids-a"),
      s.launch(argv("B"), "pids-b"),
    ]);
    const [fromA, fromB] = await Promise.all([ready(s, "A"), ready(s, "B")]);
    const [va, vb] = [vpids(a), vpids(b)];
    assert.deepEqual(va.pids, fromA, "getpid and fork's pids are the application's");
    assert.deepEqual(vb.pids, fromB);
    assert.ok(va.inRange && vb.inRange, `${va.pids} from ${va.base}, ${vb.pids} from ${vb.base}`);
    assert.ok(Math.abs(va.base - vb.base) >= VpidRanges.SIZE, `ranges ${va.base}, ${vb.base}`);
    assert.notEqual(fromA[0], fromB[0], "the two roots have the same pid");

    const again = await s.restore(await s.freeze(b, "b"));
    assert.deepEqual(vpids(again), vb, "the restored application has the image's pids");
    // A removes its files as it ends; B's, which a shared pid would have named the same, stay.
    await go(s, "A");
    await a.wait();
    await go(s, "B");
  },
);

scenarioTest(
  "clones of one image have its virtual pids, a new application another range, and the clones are named as sharing theirs",
  async (s) => {
    const app = await s.launch(["sleep", "60"], "template");
    const image = await s.freeze(app);
    const [one, two] = [await s.restore(image), await s.restore(image)];
    const fresh = await s.launch(["sleep", "60"], "fresh");
    const base = vpids(one).base;
    assert.deepEqual(vpids(two), vpids(one));
    assert.equal(base, image.manifest.processes[0].vpid - 1);
    assert.ok(Math.abs(vpids(fresh).base - base) >= VpidRanges.SIZE, "the new one's range");
    const shared = sharingVpids([two.name]);
    assert.deepEqual(shared, { names: [one.name, two.name].sort(), base });
    const warning = sharedVpidsWarning(shared.names, shared.base);
    assert.ok(warning.includes(`'${one.name}'`) && warning.includes(String(base + 1)), warning);
    assert.deepEqual(sharingVpids([fresh.name]).names, [], "a new application shares nothing");

    // `amber restore` says so: on stderr, and in --json for each clone.
    const name = s.name("cli");
    const copy = await amber(s, "restore", image.dir, "--detach", "--name", name);
    const clones = await amber(s, "restore", image.dir, "--clones", "2", "--detach", "--json");
    const listed: { name: string; sameVpidsAs?: string[] }[] = clones.code === 0
      ? JSON.parse(new TextDecoder().decode(clones.stdout))
      : [];
    for (const ended of [name, ...listed.map((c) => c.name)]) await amber(s, "kill", ended);
    const said = new TextDecoder().decode(copy.stderr);
    assert.equal(copy.code, 0, said);
    for (const other of [one.name, two.name, name]) assert.ok(said.includes(`'${other}'`), said);
    assert.match(said, /^Warning: .* have the same virtual pids/m);
    assert.equal(clones.code, 0, new TextDecoder().decode(clones.stderr));
    assert.deepEqual(
      listed.map((c) => c.sameVpidsAs),
      listed.map((c) =>
        [one.name, two.name, name, ...listed.map((l) => l.name)].filter((n) => n !== c.name).sort()
      ),
    );
  },
);

/**
 * An image's tables.bin made as a version 5 table was: no vpid_base (padding, 0) and no
 * multicast memberships at the end (the table that much shorter, its last page cut there).
 */
async function asVersion5(image: string): Promise<void> {
  const path = join(image, "tables.bin");
  const data = await Deno.readFile(path);
  const view = new DataView(data.buffer);
  // Its head: magic, version, size, npages, pad; then the page indexes, then the pages.
  assert.equal(view.getUint32(8, true), TablesVersion.CURRENT, "a tables file of this build");
  const npages = view.getUint32(16, true);
  const indexes = [...Array(npages).keys()].map((n) => view.getUint32(24 + n * 4, true));
  assert.equal(indexes[0], 0, "the table's first page is in the file");
  const PAGE = 4096;
  const oldSize = TablesVersion.SIZE_NO_MCAST;
  const pages: Uint8Array[] = [];
  let off = 24 + npages * 4;
  for (const index of indexes) {
    const len = Math.min(PAGE, TablesVersion.SIZE - index * PAGE);
    const page = data.subarray(off, off + len);
    off += len;
    if (index * PAGE >= oldSize) {
      assert.ok(page.every((b) => b === 0), "the memberships an image's copy never holds");
      continue;
    }
    pages.push(page.subarray(0, Math.min(PAGE, oldSize - index * PAGE)));
  }
  const kept = indexes.slice(0, pages.length);
  const out = new Uint8Array(24 + kept.length * 4 + pages.reduce((n, p) => n + p.length, 0));
  const head = new DataView(out.buffer);
  out.set(data.subarray(0, 24));
  head.setUint32(8, TablesVersion.FIXED_BASE, true);
  head.setUint32(12, oldSize, true);
  head.setUint32(16, kept.length, true);
  kept.forEach((index, n) => head.setUint32(24 + n * 4, index, true));
  let at = 24 + kept.length * 4;
  const table = at; // the first page is the table's start
  for (const page of pages) out.set(page, (at += page.length) - page.length);
  const BASE = TablesVersion.VPID_BASE_OFFSET; // version 5's padding
  assert.equal(head.getInt32(table + BASE, true), VpidRanges.PID_MIN);
  head.setUint32(table + 8, TablesVersion.FIXED_BASE, true);
  head.setUint32(table + 12, oldSize, true);
  head.setInt32(table + BASE, 0, true);
  await Deno.writeFile(path, out);
  const manifestPath = join(image, "manifest.json");
  const manifest = JSON.parse(await Deno.readTextFile(manifestPath));
  const entry = manifest.files.find((f: { name: string }) => f.name === "tables.bin");
  entry.hash = await fileHash(path);
  entry.size = out.length;
  delete entry.metaHash;
  delete entry.headHash;
  await Deno.writeTextFile(manifestPath, JSON.stringify(manifest));
}

scenarioTest(
  "an image from before per-application ranges (table version 5, pids from 4200001) comes back with its pids",
  async (s) => {
    // Started as every application was then: its pids from the first range, which `run` no
    // longer gives.
    const name = s.name("v5");
    const dir = makeAppDir(name);
    const id = newAppId();
    createTable(join(dir, TABLES_FILE), id, name, "", VpidRanges.PID_MIN);
    const shared = join(s.dir, "shared");
    await Deno.mkdir(shared);
    const supervisor = Supervisor.spawn("run", [dir], { output: s.output }, [
      prog("pid_files"),
      shared,
      s.dir,
      "OLD",
    ]);
    const app = new App({ name, id, dir });
    try {
      assert.deepEqual(await ready(s, "OLD"), [VpidRanges.PID_MIN + 1, VpidRanges.PID_MIN + 2]);
      const image = await s.freeze(app);
      await asVersion5(image.dir);
      const restored = await s.restore(image.dir);
      assert.deepEqual(vpids(restored), {
        base: VpidRanges.PID_MIN,
        pids: [VpidRanges.PID_MIN + 1, VpidRanges.PID_MIN + 2],
        inRange: true,
      });
      await go(s, "OLD");
    } finally {
      await app.kill().catch(() => {});
      await supervisor.stop();
    }
  },
);

/** Runs `amber ARGS...` with another state directory. */
async function amberIn(state: string, ...args: string[]): Promise<Deno.CommandOutput> {
  return await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", fileURLToPath(new URL("../cli.ts", import.meta.url)), ...args],
    env: { NO_COLOR: "1", AMBER_STATE_DIR: state },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
}

scenarioTest(
  "an application of another state directory is known: a new one avoids its range, and a restore that shares it names it",
  async (s) => {
    const app = await s.launch(["sleep", "60"], "here");
    const image = await app.snapshot({ dir: join(s.dir, "image.amber") }); // it runs on
    const other = join(s.dir, "state");
    await Deno.mkdir(other, { mode: 0o700 });
    const name = s.name("there");
    const restored = await amberIn(other, "restore", image.dir, "--detach", "--name", name);
    try {
      const said = new TextDecoder().decode(restored.stderr);
      assert.equal(restored.code, 0, said);
      assert.ok(
        said.includes(`'${app.name} (in ${stateDir()})'`) && said.includes(`'${name}'`),
        said,
      );
      const there = vpidRangeHolders().find((h) => h.name === name);
      assert.equal(there?.base, app.info().vpidBase, "the other state directory's application");
      assert.ok(there.dir.startsWith(other), there.dir);
    } finally {
      await amberIn(other, "kill", name);
    }
  },
);
