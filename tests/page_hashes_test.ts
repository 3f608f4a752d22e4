/**
 * Every page's stored hash is that of its stored bytes: a restore checks each page as it reads
 * it (csrc/restorer/verify.c) and refuses an image where one disagrees. Snapshots taken while the
 * program runs on (no --stop), of a restored program, and incremental ones on top, are where
 * memory changes while the agent writes (its own stack and data, the threads' rseq areas).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { describeImage } from "../mod.ts";
import { prog, scenarioTest } from "./support.ts";

scenarioTest(
  "snapshots without stop, of a restored program and incremental ones pass the per-page check",
  async (s) => {
    const app = await s.launch([prog("heap_pattern"), s.dir, "64"], "hashes");
    await s.waitFor(/^ready$/m);
    const first = await app.snapshot({ dir: join(s.dir, "first.amber") });
    const restored = await s.restore(first);
    const again = await restored.snapshot({ dir: join(s.dir, "again.amber") });
    const delta = await restored.snapshot({ dir: join(s.dir, "delta.amber"), parent: again });
    await restored.kill();
    await app.kill();
    await s.restore(again);
    await s.restore(delta);
    await s.pass();
    const passes = () => s.text().then((t) => t.match(/^PASS$/gm)?.length ?? 0);
    for (let i = 0; i < 100 && await passes() < 2; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await passes(), 2, "both restored programs found their memory exact");
  },
);

scenarioTest(
  "snapshots of a program with threads, taken while it runs on, restore with every page checked",
  async (s) => {
    const app = await s.launch([prog("threads_heap"), s.dir], "threads");
    await s.waitFor(/^ready$/m);
    const images = [];
    for (let i = 0; i < 4; i++) images.push(await app.snapshot({ dir: join(s.dir, `${i}.amber`) }));
    await app.kill();
    for (const image of images) await s.restore(image);
    await s.pass();
    const passes = () => s.text().then((t) => t.match(/^PASS$/gm)?.length ?? 0);
    for (let i = 0; i < 100 && await passes() < 4; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await passes(), 4, "every restored program found its memory exact");
  },
);

scenarioTest(
  "a process file is not hashed whole for its manifest: inspect checks each page against its table",
  async (s) => {
    const app = await s.launch([prog("heap_pattern"), s.dir, "64"], "inspected");
    await s.waitFor(/^ready$/m);
    const image = await app.snapshot({ dir: join(s.dir, "image.amber") });
    await app.kill();
    const file = image.manifest.processes[0].file;
    const entry = image.manifest.files.find((f) => f.name === file)!;
    assert.equal(entry.hash, undefined, "no whole-file hash: the snapshot did not read it back");
    assert.match(entry.metaHash ?? "", /^[0-9a-f]{16}$/);
    assert.ok(image.manifest.files.filter((f) => f.name !== file).every((f) => f.hash));
    assert.equal((await describeImage(image.dir)).verified, true);
    // One byte of a page in the middle of the page data (data_off at byte 72, data_len at 80).
    using f = await Deno.open(join(image.dir, file), { read: true, write: true });
    const header = new Uint8Array(88);
    await f.read(header);
    const view = new DataView(header.buffer);
    const dataLen = Number(view.getBigUint64(80, true));
    assert.ok(dataLen >= 64 * 2 ** 20, `the image holds the 64 MiB (${dataLen} bytes of pages)`);
    const at = Number(view.getBigUint64(72, true)) + Math.floor(dataLen / 2 / 4096) * 4096 + 7;
    const byte = new Uint8Array(1);
    await f.seek(at, Deno.SeekMode.Start);
    await f.read(byte);
    byte[0] ^= 0x5a;
    await f.seek(at, Deno.SeekMode.Start);
    await f.write(byte);
    const report = await describeImage(image.dir);
    assert.equal(report.verified, false);
    assert.deepEqual(
      report.files.filter((check) => check.status !== "ok").map((c) => [c.name, c.status]),
      [[file, "hash"]],
    );
  },
);
