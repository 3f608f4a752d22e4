/**
 * A process running as root that gave capabilities up (here through setpriv, as a service's
 * bounding set or a sandbox does) has no more of them after a restore: the restorer runs as
 * root, and the restored process once came back with every capability, without a word.
 */

import { scenarioTest } from "./support.ts";

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
