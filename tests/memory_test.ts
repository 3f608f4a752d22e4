/**
 * Memory that real programs hold: shared memory written by processes that exited, PROT_NONE
 * shared memory, reservations, many regions, madvise state. Each program checks its own memory
 * after the restore and prints PASS.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { prog, scenarioTest } from "./support.ts";

scenarioTest(
  "shared memory written only by workers, some exited before the snapshot, comes back whole",
  async (s) => {
    await s.roundTrip([prog("shared_workers"), s.dir], "shared");
  },
);

scenarioTest(
  "shared memory written only by workers comes back whole from a snapshot taken without stop",
  async (s) => {
    const app = await s.launch([prog("shared_workers"), s.dir], "shared");
    await s.waitFor(/^ready$/m);
    const image = await app.snapshot({ dir: join(s.dir, "image.amber") });
    await app.kill();
    await s.restore(image);
    await s.pass();
  },
);

scenarioTest(
  "shared memory untouched since a restore survives a second snapshot and restore",
  async (s) => {
    const app = await s.launch([prog("shared_workers"), s.dir], "shared");
    await s.waitFor(/^ready$/m);
    const first = await s.restore(await s.freeze(app, "first"));
    await s.restore(await s.freeze(first, "second"));
    await s.pass();
  },
);

scenarioTest(
  "a snapshot is refused, naming the process, when a part of shared memory is mapped only by a process that does not save it",
  async (s) => {
    const app = await s.launch([prog("shared_partial"), s.dir], "partial");
    await s.waitFor(/^ready$/m);
    const child = Math.max(...app.processes().map((p) => p.vpid));
    await assert.rejects(
      app.snapshot({ dir: join(s.dir, "never.amber") }),
      new RegExp(`process ${child} maps a part of shared memory \\(/memfd:partial`),
    );
  },
);

scenarioTest(
  "reservations of 1 TiB (PROT_NONE, read-write MAP_NORESERVE) and 64 GiB of sparse shared memory cost nothing to save and map back, twice",
  async (s) => {
    const app = await s.launch([prog("reservation"), s.dir], "reserve");
    await s.waitFor(/^ready$/m);
    const image = await s.freeze(app, "first");
    const bytes = image.manifest.files.reduce((n, f) => n + f.size, 0);
    assert.ok(bytes < 64 << 20, `the image holds ${bytes} bytes`);
    const first = await s.restore(image);
    await s.restore(await s.freeze(first, "second"));
    await s.pass();
  },
);

scenarioTest(
  "a program with 20000 memory regions comes back with each of them, twice",
  async (s) => {
    const app = await s.launch([prog("many_regions"), s.dir], "regions");
    await s.waitFor(/^ready$/m);
    const first = await s.restore(await s.freeze(app, "first"));
    await s.restore(await s.freeze(first, "second"));
    await s.pass();
  },
);

scenarioTest(
  "madvise state, a grow-down region, THP disabled and file mappings that may be made writable come back",
  async (s) => {
    const app = await s.launch([prog("vm_state"), s.dir], "vm");
    await s.waitFor(/^ready$/m);
    const first = await s.restore(await s.freeze(app, "first"));
    await s.restore(await s.freeze(first, "second"));
    await s.pass();
  },
);

scenarioTest(
  "pages that hold only zeros take no room in the image and come back as zeros, eager and lazy",
  async (s) => {
    const app = await s.launch([prog("zero_pages"), s.dir], "zeros");
    await s.waitFor(/^ready$/m);
    const first = await s.freeze(app, "first");
    const bytes = first.manifest.files.reduce((sum, file) => sum + file.size, 0);
    // 65 MiB of written memory, one page in 16 not zero: about 4 MiB of it is data.
    assert.ok(bytes < 16 * 2 ** 20, `the image holds ${bytes} bytes`);
    const restored = await s.restore(first);
    await s.restore(await s.freeze(restored, "second"), { lazy: true });
    await s.pass();
  },
);
