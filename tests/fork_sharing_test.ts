/**
 * Copy-on-write sharing between a parent and its forked children comes back: a restored child
 * shares its parent's pages where its own are the same, in a lazy restore too, orphans with one
 * another, and the image stores those pages once (docs/cow-sharing.md).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileHashes } from "../ffi/control.ts";
import { ImageError, type Manifest } from "../mod.ts";
import { prog, scenarioTest } from "./support.ts";

scenarioTest(
  "a parent's private memory stays shared with its forked children, each with its own changed pages, twice",
  async (s) => {
    const app = await s.launch([prog("fork_sharing"), s.dir], "fork-sharing");
    await s.waitFor(/^ready$/m, "ready");
    const first = await app.snapshot({ dir: join(s.dir, "first.amber") });
    await app.kill();
    const again = await s.restore(first);
    await s.restore(await s.freeze(again, "second"));
    await s.pass();
  },
);

for (const mode of ["orphans", "session"]) {
  scenarioTest(
    `workers whose parent exited (${mode}) still share its pages after a restore, twice`,
    async (s) => await s.cycles([prog("orphan_sharing"), s.dir, mode], `orphan-sharing-${mode}`),
  );
}

scenarioTest(
  "workers whose parent exited share its pages in a lazy restore too: the image stores them once, in the first one's file, twice",
  async (s) => {
    const app = await s.launch([prog("orphan_sharing"), s.dir, "orphans"], "orphan-sharing-lazy");
    await s.waitFor(/^ready$/m, "ready");
    const image = await s.freeze(app, "first");
    const bytes = image.manifest.files.reduce((sum, f) => sum + f.size, 0);
    assert.ok(bytes < 48 * (1 << 20), `the image of 4 workers sharing 32 MiB holds ${bytes} bytes`);
    const once = await s.restore(image, { lazy: true });
    await s.restore(await s.freeze(once, "second"), { lazy: true });
    await s.pass();
  },
);

scenarioTest(
  "in a lazy restore a forked child maps the pages it shares with its parent from the parent's file, shared, twice",
  async (s) => {
    const app = await s.launch([prog("fork_sharing"), s.dir], "fork-sharing-lazy");
    await s.waitFor(/^ready$/m, "ready");
    const once = await s.restore(await s.freeze(app, "first"), { lazy: true });
    await s.restore(await s.freeze(once, "second"), { lazy: true });
    await s.pass();
  },
);

scenarioTest(
  "a lazy restore's processes, snapshotted again and restored eagerly, still share their pages",
  async (s) => {
    const app = await s.launch([prog("fork_sharing"), s.dir], "fork-sharing-lazy-eager");
    await s.waitFor(/^ready$/m, "ready");
    const once = await s.restore(await s.freeze(app, "first"), { lazy: true });
    await s.restore(await s.freeze(once, "second"));
    await s.pass();
  },
);

const MIB = 1 << 20;

scenarioTest(
  "an image stores the pages 4 forked children share with their parent once: 64 MiB, not 320",
  async (s) => {
    const app = await s.launch([prog("fork_sharing"), s.dir, "64"], "fork-sharing-size");
    await s.waitFor(/^ready$/m, "ready");
    const image = await s.freeze(app);
    const bytes = image.manifest.files.reduce((sum, f) => sum + f.size, 0);
    assert.ok(bytes < 80 * MIB, `the image holds ${bytes} bytes`);
    const shared = image.manifest.processes.reduce(
      (sum, p) => sum + Number(p.details.sharedPages ?? 0),
      0,
    );
    assert.ok(shared >= 4 * (16384 - 8), `${shared} pages are stored once`);
    await s.restore(image);
    await s.pass();
  },
  120_000,
);

/** The image's manifest with a file's checksums made again (after the test changed it). */
async function rehash(dir: string, name: string): Promise<void> {
  const path = join(dir, "manifest.json");
  const manifest: Manifest = JSON.parse(await Deno.readTextFile(path));
  const file = manifest.files.find((f) => f.name === name)!;
  const { hash, metaHash, headHash } = await fileHashes(join(dir, name), "whole");
  Object.assign(file, {
    hash,
    ...(metaHash ? { metaHash } : {}),
    ...(headHash ? { headHash } : {}),
  });
  await Deno.writeTextFile(path, JSON.stringify(manifest, null, 2) + "\n");
}

scenarioTest(
  "a child's reference to its parent's pages that names a missing process is refused by name",
  async (s) => {
    const app = await s.launch([prog("fork_sharing"), s.dir], "fork-sharing-bad");
    await s.waitFor(/^ready$/m, "ready");
    const image = await s.freeze(app);
    const child = image.manifest.processes.find((p) => Number(p.details.sharedPages) > 0)!;
    const path = join(image.dir, child.file);
    const bytes = await Deno.readFile(path);
    const view = new DataView(bytes.buffer);
    const nruns = view.getInt32(28, true), runsOff = Number(view.getBigUint64(56, true));
    let changed = 0;
    for (let i = 0; i < nruns; i++) { // struct amber_run_rec: 32 bytes, its vpid at 28
      const at = runsOff + i * 32 + 28;
      if (view.getInt32(at, true) > 0) view.setInt32(at, 4299999, true), changed++;
    }
    assert.ok(changed > 0, "the child refers to its parent's pages");
    await Deno.writeFile(path, bytes);
    await rehash(image.dir, child.file);
    await assert.rejects(s.restore(image.dir), (e: Error) => {
      assert.ok(e instanceof ImageError, String(e));
      const file = child.file.replace(".", "\\.");
      const named = `'${file}' refers to pages stored in 'process-4299999\\.img', which is missing`;
      assert.match(e.message, new RegExp(named));
      return true;
    });
  },
);

scenarioTest(
  "an incremental image of a parent and its forked children refers to the pages its parent image stores once",
  async (s) => {
    const app = await s.launch([prog("fork_sharing"), s.dir], "fork-sharing-incremental");
    await s.waitFor(/^ready$/m, "ready");
    const full = await app.snapshot({ dir: join(s.dir, "full.amber") });
    const next = await app.snapshot({ dir: join(s.dir, "next.amber"), parent: full, stop: true });
    const bytes = next.manifest.files.reduce((sum, f) => sum + f.size, 0);
    assert.ok(bytes < 16 * MIB, `the incremental image holds ${bytes} bytes`);
    await s.restore(next);
    await s.pass();
  },
);
