/**
 * A process running as root that gave capabilities up (here through setpriv, as a service's
 * bounding set or a sandbox does) has no more of them after a restore: the restorer runs as
 * root, and the restored process once came back with every capability, without a word.
 * And a socket option that needs a capability (SO_MARK), set by a process that dropped it
 * since: kept for a root process (its descriptors are made again before it gives them up);
 * one of another user's cannot be set again, and the restore fails naming it, where the socket
 * once came back unmarked.
 */

import assert from "node:assert/strict";
import { RestoreError } from "../mod.ts";
import { prog, scenarioTest } from "./support.ts";

const SCRIPT = `
caps() { grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status | tr '\\n' ' '; }
before=$(caps)
echo ready
while [ ! -e "$1/go" ]; do sleep 0.02; done
after=$(caps)
if [ "$before" = "$after" ]; then echo PASS; else echo "FAIL: $before, now $after"; fi
`;

scenarioTest(
  "a root process that gave capabilities up does not get them back from a restore",
  async (s) => {
    if (Deno.uid() !== 0) throw new Error("this test runs as root (it gives capabilities up)");
    const drop = ["setpriv", "--bounding-set", "-all,+net_bind_service", "--inh-caps", "-all"];
    await s.roundTrip([...drop, "--", "sh", "-c", SCRIPT, "sh", s.dir], "caps");
  },
  60_000,
);

scenarioTest(
  "a root process's socket mark (SO_MARK) set before it dropped CAP_NET_ADMIN comes back",
  (s) => s.roundTrip([prog("mark_dropped"), s.dir], "mark-root").then(() => {}),
  60_000,
);

scenarioTest(
  "a restore of another user's socket whose mark it set before dropping the capability fails naming the descriptor and SO_MARK",
  async (s) => {
    await Deno.chmod(s.dir, 0o777); // for the program, which runs as nobody
    const caps = ["--inh-caps=+net_admin,+net_raw", "--ambient-caps=+net_admin,+net_raw"];
    const nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", ...caps, "--"];
    const app = await s.launch([...nobody, prog("mark_dropped"), s.dir], "mark-nobody");
    await s.waitFor(/^ready$/m, "ready");
    const image = await s.freeze(app);
    await assert.rejects(s.restore(image), (e: unknown) => {
      assert.ok(e instanceof RestoreError, `Expected a RestoreError, got ${e}`);
      assert.match(e.message, /cannot re-create descriptor 3 \(.*UDP.*\): EPERM setting SO_MARK/);
      return true;
    });
  },
  60_000,
);
