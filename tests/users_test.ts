/**
 * Applications whose processes run as different users: a server started by root whose child
 * drops to nobody (and may exec). Each process keeps exactly the access it had: the child's
 * library reaches the tables through an inherited descriptor, its process file is handed to it
 * by the coordinator (the image directory stays private to root), and it comes back as nobody.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { prog, type Scenario, scenarioTest } from "./support.ts";

const ROOT = Deno.uid() === 0;

/** A private directory for images, inside a scenario directory that nobody may search. */
async function privateDir(s: Scenario): Promise<string> {
  await Deno.chmod(s.dir, 0o755); // the child, nobody, must see `go`
  const dir = join(s.dir, "private");
  await Deno.mkdir(dir, { mode: 0o700 });
  return dir;
}

/** Snapshot without stop, end the original, restore; snapshot that with stop, restore; go. */
async function twoCycles(s: Scenario, mode: string): Promise<void> {
  const images = await privateDir(s);
  const app = await s.launch([prog("switch_user"), s.dir, mode], `switch-${mode}`);
  await s.waitFor(/^ready$/m);
  const first = await app.snapshot({ dir: join(images, "first.amber") });
  await app.kill();
  for await (const entry of Deno.readDir(first.dir)) {
    const info = await Deno.stat(join(first.dir, entry.name));
    assert.equal(info.uid, 0, `${entry.name} belongs to uid ${info.uid}`);
    assert.equal(info.mode! & 0o777, 0o600, `${entry.name} has mode ${info.mode!.toString(8)}`);
  }
  const again = await s.restore(first);
  assert.equal(again.processes().length, 2);
  const second = await again.snapshot({ dir: join(images, "second.amber"), stop: true });
  await s.restore(second);
  await s.pass();
}

scenarioTest(
  "a child that switched to nobody comes back as nobody, with and without stop, twice",
  async (s) => {
    if (!ROOT) return; // it needs root to switch users
    await twoCycles(s, "fork");
  },
);

scenarioTest(
  "a child that switched to nobody and exec'd stays under Amber and comes back as nobody",
  async (s) => {
    if (!ROOT) return;
    await twoCycles(s, "exec");
  },
);

scenarioTest(
  "a process running without Amber's library is named and the snapshot refused; it runs on",
  async (s) => {
    if (!ROOT) return;
    const images = await privateDir(s);
    const app = await s.launch([prog("switch_user"), s.dir, "bare"], "switch-bare");
    await s.waitFor(/^ready$/m);
    await assert.rejects(
      app.snapshot({ dir: join(images, "bare.amber"), stop: true }),
      /process 4200002 \(pid \d+, sleep\) runs without Amber's library.*it keeps running/,
    );
    assert.deepEqual(app.processes().map((p) => p.alive), [true, true]);
  },
);
