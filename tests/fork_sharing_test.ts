/**
 * Copy-on-write sharing between a parent and its forked children comes back: a restored child
 * shares its parent's pages where its own are the same (docs/cow-sharing.md).
 */

import { join } from "node:path";
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
