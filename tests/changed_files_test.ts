/**
 * A file the program writes in place that changed after the snapshot makes the restore refuse,
 * naming it, unless the user accepts it; a log it appends to may change.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { IncompatibleImageError } from "../mod.ts";
import { prog, scenarioTest } from "./support.ts";

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
