/**
 * Locks that name their owner by thread ID (recursive, error-checking, robust and PI mutexes,
 * rwlocks held for writing) still belong to their holder after a restore gives it a new TID.
 */

import { join } from "node:path";
import { prog, scenarioTest } from "./support.ts";

scenarioTest(
  "locks that name their owner by thread ID stay their holder's across two snapshots and restores",
  async (s) => {
    const app = await s.launch([prog("owned_locks"), s.dir], "owned");
    await s.waitFor(/^ready$/m);
    // Without stop first: the original runs on until it is ended.
    const first = await app.snapshot({ dir: join(s.dir, "first.amber") });
    await app.kill();
    const restored = await s.restore(first);
    await s.restore(await s.freeze(restored, "second"));
    await s.pass();
  },
);
