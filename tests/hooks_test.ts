/**
 * Hooks around a freeze and progress reports: beforeFreeze runs before anything is frozen and
 * can refuse the snapshot, afterResume once the application runs again, and onProgress follows
 * the write and the sync to the end.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { type Progress, SnapshotError } from "../mod.ts";
import { leftovers } from "./cli_support.ts";
import { prog, scenarioTest, sleep } from "./support.ts";

function lastCount(text: string): number {
  const all = [...text.matchAll(/^count (\d+) /gm)];
  return all.length ? Number(all.at(-1)![1]) : -1;
}

scenarioTest(
  "beforeFreeze and afterResume surround the freeze; progress runs to done",
  async (s) => {
    const app = await s.launch([prog("heap_pattern"), s.dir, "32"], "hooks");
    await s.waitFor(/^ready$/m);
    const events: string[] = [];
    const reports: Progress[] = [];
    const image = await app.snapshot({
      dir: join(s.dir, "hooked.amber"),
      beforeFreeze: async () => {
        await sleep(10);
        events.push(`before ${app.processes().length}`);
      },
      afterResume: () => {
        events.push("after");
      },
      onProgress: (progress) => reports.push(progress),
    });
    events.push("resolved");
    assert.deepEqual(events, ["before 1", "after", "resolved"]);
    const phases = reports.map((r) => r.phase).filter((p, i, all) => p !== all[i - 1]);
    const order: Progress["phase"][] = ["freeze", "write", "sync", "done"];
    assert.deepEqual(phases, order.filter((p) => phases.includes(p)), phases.join(" "));
    assert.ok(phases.includes("sync") && phases.at(-1) === "done", phases.join(" "));
    assert.ok(reports[0].totalBytes! >= 32 << 20, `estimate ${reports[0].totalBytes}`);
    const last = reports.at(-1)!;
    assert.equal(last.bytes, image.stats!.bytesWritten);
    for (const [i, r] of reports.entries()) {
      const before = reports[i - 1];
      if (before?.phase === r.phase) assert.ok(r.bytes >= before.bytes, "bytes only grow");
    }
    const frozen = await s.freeze(app);
    const loading: Progress[] = [];
    await s.restore(frozen, { onProgress: (progress) => loading.push(progress) });
    const verified = loading.filter((r) => r.phase === "verify").at(-1)!;
    assert.equal(verified.bytes, frozen.stats!.bytesWritten, "every file of the image verified");
    assert.equal(verified.totalBytes, verified.bytes);
    assert.deepEqual(loading.slice(-2).map((r) => r.phase), ["load", "done"]);
    await s.pass();
  },
);

scenarioTest(
  "a throwing beforeFreeze refuses the snapshot and the application runs on",
  async (s) => {
    const app = await s.launch([prog("counter"), "20"], "refused");
    await s.waitFor(/^count 2 /m);
    let resumed = false;
    const error = await app.snapshot({
      dir: join(s.dir, "refused.amber"),
      beforeFreeze: () => {
        throw new Error("the cache would not flush");
      },
      afterResume: () => {
        resumed = true;
      },
    }).catch((e) => e);
    assert.ok(error instanceof SnapshotError, String(error));
    assert.match(error.message, /beforeFreeze hook failed \(the cache would not flush\)/);
    assert.equal((error.cause as Error).message, "the cache would not flush");
    assert.equal(resumed, false, "afterResume runs only after a freeze");
    assert.deepEqual(await leftovers(s), []);
    const count = lastCount(await s.text());
    await s.waitFor(new RegExp(`^count ${count + 3} `, "m"), "the counter going on");
    const again = await app.snapshot({ dir: join(s.dir, "again.amber") });
    assert.equal(again.manifest.processes.length, 1);
  },
);
