/**
 * Snapshot statistics: frozen and total time, bytes written, pages written and referred to a
 * parent, processes; in the API's result and in `amber snapshot`'s text and JSON.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { check } from "../mod.ts";
import { amber } from "./cli_support.ts";
import { prog, scenarioTest } from "./support.ts";

async function sizeOf(dir: string): Promise<number> {
  let total = 0;
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    total += entry.isDirectory ? await sizeOf(path) : (await Deno.stat(path)).size;
  }
  return total;
}

scenarioTest("a snapshot reports its times, bytes, pages and processes", async (s) => {
  const app = await s.launch([prog("heap_pattern"), s.dir, "8"], "stats");
  await s.waitFor(/^ready$/m);
  const full = await app.snapshot({ dir: join(s.dir, "full.amber") });
  const stats = full.stats!;
  assert.equal(stats.processes, 1);
  assert.ok(stats.frozenMs > 0 && stats.frozenMs <= stats.totalMs, JSON.stringify(stats));
  assert.ok(
    stats.pagesWritten >= 2048,
    `8 MiB of heap is at least 2048 pages: ${stats.pagesWritten}`,
  );
  assert.equal(stats.pagesInParent, 0);
  // The manifest is written after the statistics' files were listed: it is the only difference.
  const manifest = (await Deno.stat(join(full.dir, "manifest.json"))).size;
  assert.equal(stats.bytesWritten + manifest, await sizeOf(full.dir));
  const child = await app.snapshot({ dir: join(s.dir, "child.amber"), parent: full });
  const delta = child.stats!;
  assert.ok(
    delta.pagesInParent >= 2048,
    `the unchanged heap is referred to: ${delta.pagesInParent}`,
  );
  assert.ok(delta.pagesWritten < stats.pagesWritten / 4, JSON.stringify(delta));
  assert.ok(delta.bytesWritten < stats.bytesWritten / 4, JSON.stringify(delta));
});

scenarioTest("amber snapshot prints its statistics, as text and as JSON", async (s) => {
  const app = await s.launch([prog("counter"), "50"], "statscli");
  await s.waitFor(/^count 1 /m);
  const text = await amber(s, "snapshot", app.name, "-o", "a.amber");
  const out = new TextDecoder().decode(text.stdout);
  assert.equal(text.code, 0, new TextDecoder().decode(text.stderr));
  assert.match(
    out,
    /1 process, [\d.]+ [KM]iB \(\d+ pages written\); frozen \d+ ms, total \d+ ms\./,
  );
  const json = await amber(
    s,
    "snapshot",
    app.name,
    "-o",
    "b.amber",
    "--parent",
    "a.amber",
    "--json",
  );
  assert.equal(json.code, 0, new TextDecoder().decode(json.stderr));
  const { stats } = JSON.parse(new TextDecoder().decode(json.stdout));
  assert.equal(stats.processes, 1);
  assert.ok(stats.pagesInParent > 0 && stats.totalMs >= stats.frozenMs, JSON.stringify(stats));
  // b.amber armed dirty-page tracking (as a.amber did), so the next one on it uses it.
  const again = await amber(s, "snapshot", app.name, "-o", "c.amber", "--parent", "b.amber");
  assert.equal(again.code, 0, new TextDecoder().decode(again.stderr));
  const tracked = check().features.find((f) => f.id === "dirtyTracking")!.present;
  assert.equal(
    /, the written ones found by dirty-page tracking\);/.test(
      new TextDecoder().decode(again.stdout),
    ),
    tracked,
    new TextDecoder().decode(again.stdout),
  );
});
