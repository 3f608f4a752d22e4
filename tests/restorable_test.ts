/**
 * What a restore here would refuse is found at snapshot time, before anything is ended
 * (src/restorable.ts): a snapshot with --stop refuses, naming the process and why, and the
 * application runs on; `amber inspect` does not call such an image restorable, and a restore
 * refuses it up front.
 */

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describeImage, IncompatibleImageError, SnapshotError } from "../mod.ts";
import { CLI, run } from "./cli_run.ts";
import { prog, type Scenario, scenarioTest } from "./support.ts";

scenarioTest(
  "memory where the restorer must be loaded: a snapshot refuses, naming the process, and the program runs on",
  async (s) => {
    const app = await s.launch([prog("restorer_spot")], "spot");
    await s.waitFor(/^tick 2$/m);
    const vpid = app.processes()[0].vpid;
    for (const stop of [true, false]) {
      const dir = join(s.dir, `never-${stop}.amber`);
      await assert.rejects(app.snapshot({ dir, stop }), (e: Error) => {
        assert.ok(e instanceof SnapshotError, String(e));
        assert.match(e.message, new RegExp(`process ${vpid} has memory at 0x100000000000-`));
        assert.match(e.message, /restorer/);
        return true;
      });
      assert.ok(!existsSync(dir), "no image that looks whole");
      const ticks = Number(/tick (\d+)\n$/.exec(await s.text())?.[1]);
      await s.waitFor(new RegExp(`^tick ${ticks + 3}$`, "m"), "ticks after the refusal");
    }
    assert.ok(app.processes().every((p) => p.alive));
  },
);

/** A counter's image. */
async function counterImage(s: Scenario) {
  const app = await s.launch([prog("counter"), "20"], "counter");
  await s.waitFor(/^count 2 /m);
  return await s.freeze(app);
}

/** `amber inspect DIR`'s "Restorable" line. */
async function restorableLine(dir: string): Promise<string> {
  const shown = await run(Deno.execPath(), ["run", "-A", "--quiet", CLI, "inspect", dir], {
    AMBER_STATE_DIR: Deno.env.get("AMBER_STATE_DIR") ?? "",
    NO_COLOR: "1",
  });
  return /^Restorable.*$/m.exec(shown.stdout)?.[0] ?? shown.stdout + shown.stderr;
}

scenarioTest(
  "inspect does not call an image restorable that the restore refuses here",
  async (s) => {
    const image = await counterImage(s);
    assert.equal((await describeImage(image.dir)).incompatibility, null);
    // The same image, its process described with memory where the restorer must be loaded.
    const path = join(image.dir, "manifest.json");
    const manifest = JSON.parse(await Deno.readTextFile(path));
    manifest.processes[0].details.regions.push({
      start: "100000001000",
      end: "100000002000",
      prot: 3,
      kind: "anonymous",
      saved: 0,
      name: "",
    });
    await Deno.writeTextFile(path, JSON.stringify(manifest));
    const report = await describeImage(image.dir);
    assert.match(report.incompatibility ?? "", /has memory at 0x100000001000-.*restorer/);
    assert.match(await restorableLine(image.dir), /no: process \d+ has memory at/);
    await assert.rejects(s.restore(image), IncompatibleImageError);
  },
);

scenarioTest(
  "inspect does not call restorable a damaged image, nor one whose owner lacks the credentials it asks for",
  async (s) => {
    const image = await counterImage(s);
    assert.match(await restorableLine(image.dir), /yes, here/);
    // Root's image given to nobody: its process would run as root, which nobody is not.
    for (const entry of [".", ...[...Deno.readDirSync(image.dir)].map((e) => e.name)]) {
      await Deno.chown(join(image.dir, entry), 65534, 65534);
    }
    assert.match((await describeImage(image.dir)).incompatibility ?? "", /uid 0.* does not have/);
    assert.match(await restorableLine(image.dir), /no: .*uid 0/);
    await assert.rejects(s.restore(image), /does not have/);
    // Damaged: a process file cut short.
    await Deno.chown(image.dir, 0, 0);
    for (const entry of Deno.readDirSync(image.dir)) {
      await Deno.chown(join(image.dir, entry.name), 0, 0);
    }
    const file = join(image.dir, image.manifest.processes[0].file);
    await Deno.truncate(file, (await Deno.stat(file)).size - 1);
    assert.match(await restorableLine(image.dir), /no: 1 file does not verify/);
  },
);

scenarioTest(
  "an application whose directory a restore under its name could not make: a snapshot with --stop refuses, and it runs on",
  async (s) => {
    // A state directory long enough that apps/<63 characters> passes 100 bytes.
    const state = join(s.dir, "a-state-directory-long-enough-for-the-test");
    await Deno.mkdir(state, { mode: 0o700 });
    const env = { AMBER_STATE_DIR: state, NO_COLOR: "1" };
    const amber = (...args: string[]) =>
      run(Deno.execPath(), ["run", "-A", "--quiet", CLI, ...args], env);
    const name = `long-${"n".repeat(58)}`;
    const ran = await amber("run", "--detach", "--name", name, "--", prog("counter"), "20");
    assert.equal(ran.code, 0, ran.stderr);
    try {
      const image = join(s.dir, "never.amber");
      const refused = await amber("snapshot", name, "-o", image, "--stop");
      assert.notEqual(refused.code, 0, refused.stdout);
      assert.match(refused.stderr, /application directory .* more than the 100 Amber accepts/);
      assert.ok(!existsSync(image), "no image that looks whole");
      const ps = JSON.parse((await amber("ps", "--json")).stdout) as {
        name: string;
        processes: { alive: boolean }[];
      }[];
      assert.ok(ps.find((a) => a.name === name)?.processes.every((p) => p.alive), "it runs on");
      // Without --stop it may be restored under a shorter name.
      const kept = await amber("snapshot", name, "-o", join(s.dir, "kept.amber"));
      assert.equal(kept.code, 0, kept.stderr);
    } finally {
      await amber("kill", name);
    }
  },
);

/** A privileged port free on 127.0.0.1 (the tests run as root). */
function freePrivilegedPort(): number {
  for (;;) {
    const port = 600 + Math.floor(Math.random() * 400);
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      return port;
    } catch {
      // Taken: another.
    }
  }
}

async function hello(port: number): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const buf = new Uint8Array(64);
    const n = await conn.read(buf);
    return new TextDecoder().decode(buf.subarray(0, n ?? 0)).trim();
  } finally {
    conn.close();
  }
}

scenarioTest(
  "a privileged port bound before root was given up: a snapshot with --stop refuses, naming it, and the daemon runs on",
  async (s) => {
    const port = freePrivilegedPort();
    const app = await s.launch([prog("privileged_port"), String(port)], "daemon");
    await s.waitFor(/^ready$/m);
    assert.equal(await hello(port), "hello 1");
    const dir = join(s.dir, "never.amber");
    await assert.rejects(app.snapshot({ dir, stop: true }), (e: Error) => {
      assert.ok(e instanceof SnapshotError, String(e));
      assert.match(e.message, new RegExp(`socket bound to port ${port}.*uid 65534`));
      return true;
    });
    assert.ok(!existsSync(dir), "no image that looks whole");
    assert.equal(await hello(port), "hello 2");
  },
);
