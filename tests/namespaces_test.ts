/**
 * A process in namespaces of its own (here `unshare -Urn`: its own users, uid 0 inside, and no
 * network) would come back in Amber's own, uid 0 turned into the real user and the network
 * open to it; one shut in a directory with chroot would come back seeing the whole file system:
 * the snapshot refuses, naming the process and what differs, and the program runs on.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { SnapshotError } from "../mod.ts";
import { prog, scenarioTest } from "./support.ts";

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

scenarioTest(
  "a snapshot of a process that shut itself in a directory with chroot fails naming it, and it runs on",
  async (s) => {
    if (Deno.uid() !== 0) throw new Error("this test runs as root (its program calls chroot)");
    const jail = join(s.dir, "jail");
    await Deno.mkdir(jail);
    const app = await s.launch([prog("chroot_self"), s.dir], "chroot");
    await s.waitFor(/^ready$/m, "ready");
    await assert.rejects(
      app.snapshot({ dir: join(s.dir, "image.amber"), stop: true }),
      (e) =>
        e instanceof SnapshotError &&
        new RegExp(`process \\d+ \\(chroot_self\\) has shut itself in ${jail} \\(chroot\\)`)
          .test(e.message),
    );
    await Deno.writeTextFile(join(jail, "go"), "");
    await s.waitFor(/^PASS$/m, "PASS");
  },
  60_000,
);
