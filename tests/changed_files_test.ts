/**
 * A file the program writes in place that changed after the snapshot makes the restore refuse,
 * naming it, unless the user accepts it; a log it appends to may change.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { IncompatibleImageError, restoreClones } from "../mod.ts";
import { amber } from "./cli_support.ts";
import { prog, scenarioTest, sleep } from "./support.ts";

scenarioTest(
  "a restore refuses files written in place that changed after the snapshot, unless accepted",
  async (s) => {
    const data = join(s.dir, "data.db");
    const log = join(s.dir, "app.log");
    const app = await s.launch([prog("changed_file"), s.dir, data, log], "changed");
    await s.waitFor(/^ready$/m);
    const image = await app.snapshot({ dir: join(s.dir, "image.amber") });
    // The original carries on after the snapshot: it appends to its log, then writes its data.
    await Deno.writeTextFile(log, "later\n", { append: true });
    await app.kill();
    await s.restore(image); // the log alone changed: nothing to refuse
    await s.pass();
    await Deno.remove(s.go);

    const second = await s.freeze(await s.restore(image), "second");
    const file = await Deno.open(data, { write: true });
    await file.write(new TextEncoder().encode("future")); // same size, rewritten in place
    file.close();
    await assert.rejects(
      () => s.restore(second),
      (e) => e instanceof IncompatibleImageError && e.message.includes(data),
    );
    await s.restore(second, { acceptChangedFiles: true });
    await s.pass();
  },
);

scenarioTest(
  "clones of an image whose program writes a file in place are refused, naming it, unless accepted; a log it appends to is no matter",
  async (s) => {
    const data = join(s.dir, "data.db");
    const log = join(s.dir, "app.log");
    const app = await s.launch([prog("changed_file"), s.dir, data, log], "shared");
    await s.waitFor(/^ready$/m);
    const image = await s.freeze(app);
    await assert.rejects(
      () => restoreClones(image.dir, 2, { name: s.name("clone") }),
      (e) =>
        e instanceof IncompatibleImageError && e.message.includes(`'${data}' (process `) &&
        !e.message.includes(log) && e.message.includes("--accept-shared-files"),
    );
    const cli = await amber(s, "restore", image.dir, "--clones", "2", "--detach");
    assert.notEqual(cli.code, 0);
    assert.match(new TextDecoder().decode(cli.stderr), /would write, at once, the files/);
    assert.equal(await Deno.readTextFile(data), "frozen", "no clone ran");
    const clones = await restoreClones(image.dir, 2, {
      name: s.name("accepted"),
      acceptSharedFiles: true,
    });
    for (const clone of clones) await clone.kill();
    assert.equal(clones.length, 2);
  },
);

scenarioTest(
  "a file written in place through a shared mapping whose descriptor is closed is checked as one held open: a restore after it changed is refused, clones too",
  async (s) => {
    const data = join(s.dir, "data.db");
    const app = await s.launch([prog("mapped_in_place"), s.dir, data], "mapped");
    await s.waitFor(/^ready$/m);
    const image = await app.snapshot({ dir: join(s.dir, "live.amber") });
    // The original counts on in the file's page, dirty since before the snapshot.
    await sleep(200);
    const named = (e: unknown) =>
      e instanceof IncompatibleImageError &&
      e.message.includes(`'${data}' (process `) && e.message.includes("mapped shared for writing");
    await assert.rejects(() => s.restore(image), named);
    await assert.rejects(() => restoreClones(image.dir, 2, { name: s.name("clone") }), named);
    // Frozen and ended, the file stays as the image left it: restored, it counts on from there.
    await s.restore(await s.freeze(app, "stopped"));
    await s.pass();
  },
);
