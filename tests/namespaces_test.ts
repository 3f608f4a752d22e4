/**
 * A process in namespaces of its own (here `unshare -Urn`: its own users, uid 0 inside, and no
 * network) would come back in Amber's own, uid 0 turned into the real user and the network
 * open to it: the snapshot refuses, naming the process and the namespace, and the program runs
 * on.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { SnapshotError } from "../mod.ts";
import { scenarioTest } from "./support.ts";

scenarioTest(
  "a snapshot of a process in a user and network namespace of its own fails naming it, and it runs on",
  async (s) => {
    const script = 'echo ready; while [ ! -e "$1/go" ]; do sleep 0.02; done; echo PASS';
    const app = await s.launch(["unshare", "-Urn", "sh", "-c", script, "sh", s.dir], "unshare");
    await s.waitFor(/^ready$/m, "ready");
    await assert.rejects(
      app.snapshot({ dir: join(s.dir, "image.amber"), stop: true }),
      (e) =>
        e instanceof SnapshotError &&
        /process \d+ \(sh\) is in a user namespace of its own/.test(e.message),
    );
    await s.pass();
  },
  60_000,
);
