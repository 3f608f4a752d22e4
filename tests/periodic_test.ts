/**
 * Periodic snapshots: a series keeps at most `keep` images, each incremental on the one before
 * up to a chain limit, every kept image restorable, and the newest holds the program's state
 * at that snapshot.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { check, type Image, open, readImage } from "../mod.ts";
import { chainLimit, retained } from "../src/periodic.ts";
import { amber, spawnAmber } from "./cli_support.ts";
import { prog, scenarioTest } from "./support.ts";

function lastCount(text: string): number {
  const all = [...text.matchAll(/^count (\d+) /gm)];
  return all.length ? Number(all.at(-1)![1]) : -1;
}

async function imagesIn(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

Deno.test("the kept images are the newest whose chains fit, and chains stop at half of keep", () => {
  type N = { id: number; parent: N | null };
  const all: N[] = [];
  const limit = chainLimit(3);
  for (let i = 0; i < 7; i++) {
    const last = all.at(-1);
    let depth = 0;
    for (let at = last ?? null; at; at = at.parent) depth++;
    all.push({ id: i, parent: last && depth < limit ? last : null });
    const kept = retained(all, 3);
    assert.ok(kept.size <= 3 && kept.has(all.at(-1)!));
    for (const n of kept) if (n.parent) assert.ok(kept.has(n.parent), `${n.id}'s parent kept`);
  }
  assert.equal(limit, 2);
  assert.equal(chainLimit(5), 3);
});

scenarioTest("snapshots every 300 ms keep three, and the newest restores its state", async (s) => {
  const app = await s.launch([prog("counter"), "50"], "periodic");
  await s.waitFor(/^count 2 /m);
  const folder = join(s.dir, "series");
  const seen: { image: Image; after: number }[] = [];
  const series = app.snapshotEvery({
    dir: folder,
    everyMs: 300,
    keep: 3,
    count: 6,
    onSnapshot: (image, kept) => {
      assert.ok(kept.length <= 3, `${kept.length} images kept`);
      assert.equal(kept.at(-1), image);
      seen.push({ image, after: -1 });
    },
  });
  // Where the counter was between snapshots tells which image holds which state.
  const look = async () => {
    const count = lastCount(await s.text());
    for (const entry of seen) if (entry.after < 0) entry.after = count;
  };
  const watch = setInterval(look, 20);
  try {
    await series.done;
  } finally {
    clearInterval(watch);
  }
  await look();
  assert.equal(seen.length, 6);
  const kept = series.images;
  assert.ok(kept.length >= 2 && kept.length <= 3, `${kept.length} kept`);
  assert.deepEqual(await imagesIn(folder), kept.map((image) => image.dir.split("/").at(-1)).sort());
  assert.ok(seen.some(({ image }) => image.manifest.parent), "some image is incremental");
  // An incremental image is pre-copied too (only the pages written since its parent).
  const precopy = (await check()).features.find((f) => f.id === "dirtyTracking")?.present;
  for (const { image } of seen) {
    if (precopy && image.manifest.parent) assert.equal(image.stats!.processesPreCopied, 1);
  }
  for (const image of kept) {
    const parent = (await readImage(image.dir)).manifest.parent;
    if (parent) assert.ok(kept.some((k) => k.dir === parent.dir), `parent of ${image.dir} kept`);
  }
  await app.kill();
  const newest = seen.at(-1)!;
  const output = join(s.dir, "restored-out");
  await s.restore(newest.image, { output });
  let first = -1;
  for (let i = 0; i < 200 && first < 0; i++) {
    const match = /^count (\d+) /m.exec(await Deno.readTextFile(output).catch(() => ""));
    if (match) first = Number(match[1]);
    else await new Promise((resolve) => setTimeout(resolve, 20));
  }
  // The restored counter goes on from the count it had when the newest image was frozen:
  // after the one before was written, before the newest was.
  const low = seen.at(-2)!.after - 1;
  assert.ok(
    first - 1 >= low && first - 1 <= newest.after + 1,
    `restored from ${first}, the snapshot was taken between ${low} and ${newest.after}`,
  );
});

scenarioTest("amber snapshot --every --keep --count prints a JSON line per snapshot", async (s) => {
  const app = await s.launch([prog("counter"), "50"], "every");
  await s.waitFor(/^count 1 /m);
  const out = await amber(
    s,
    "snapshot",
    app.name,
    "--every",
    "300ms",
    "--keep",
    "2",
    "--count",
    "3",
    "--json",
    "-o",
    "series",
  );
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(lines.length, 3);
  assert.equal(lines[0].parent, null);
  assert.equal(lines.at(-1).kept.length <= 2, true);
  assert.equal((await imagesIn(join(s.dir, "series"))).length, lines.at(-1).kept.length);
  const bad = await amber(s, "snapshot", app.name, "--keep", "2");
  assert.equal(bad.code, 2, "--keep without --every is a usage error");
});

scenarioTest("examples/keep_last.ts snapshots, keeps three, and restores the newest", async (s) => {
  const app = await s.launch([prog("counter"), "50"], "example", { detach: true });
  await s.waitFor(/^count 1 /m);
  const script = fileURLToPath(new URL("../examples/keep_last.ts", import.meta.url));
  const folder = join(s.dir, "kept");
  await Deno.mkdir(folder);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", script, app.name, "3", "300", folder, "5", s.output],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.equal(text.match(/ kept\)$/gm)?.length, 5, text);
  assert.match(text, /^restored .* as /m);
  assert.ok((await imagesIn(folder)).length <= 3);
  await using again = await open(app.name);
  const before = lastCount(await s.text());
  await s.waitFor(new RegExp(`^count ${before + 3} `, "m"), "the restored counter going on");
  assert.equal(again.processes().length, 1);
});

scenarioTest("Ctrl-C ends amber snapshot --every, keeping whole images only", async (s) => {
  const app = await s.launch([prog("counter"), "50"], "interrupted");
  await s.waitFor(/^count 1 /m);
  const child = spawnAmber(s, "snapshot", app.name, "--every", "200ms", "--keep", "3", "-o", "s");
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while ((text.match(/ kept\.$/gm)?.length ?? 0) < 2) {
    const { value, done } = await reader.read();
    if (done) assert.fail(`amber ended early:\n${text}`);
    text += value;
  }
  child.kill("SIGINT");
  const errors = new Response(child.stderr).text();
  while (!(await reader.read()).done);
  const { code } = await child.status;
  assert.equal(code, 0);
  assert.match(await errors, /^Stopped after \d+ snapshots\.$/m);
  const left = await imagesIn(join(s.dir, "s"));
  assert.ok(left.length >= 1 && left.length <= 3, left.join(" "));
  assert.ok(left.every((name) => name.endsWith(".amber")), `no temporary folder: ${left}`);
  for (const name of left) await readImage(join(s.dir, "s", name));
  const count = lastCount(await s.text());
  await s.waitFor(new RegExp(`^count ${count + 3} `, "m"), "the application going on");
});
