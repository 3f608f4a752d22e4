/**
 * A log a shell opened for appending only and deleted while it writes (as `rm` of a daemon's
 * log does): the snapshot reads the deleted file's bytes through a reader of its own, since
 * the program's descriptor cannot read; the restored shell appends after what it had written.
 */

import { scenarioTest } from "./support.ts";

const SCRIPT = `
exec 3>>"$1/log"; rm "$1/log"
for i in 1 2 3; do echo "tick $i" >&3; done
echo ready
while [ ! -e "$1/go" ]; do sleep 0.02; done
echo after >&3
seen=$(tr '\\n' ' ' < /dev/fd/3)
if [ "$seen" = "tick 1 tick 2 tick 3 after " ]; then echo PASS; else echo "FAIL: $seen"; fi
`;

scenarioTest(
  "a write-only log deleted while open keeps its bytes and its appends through a restore",
  async (s) => {
    await s.roundTrip(["sh", "-c", SCRIPT, "sh", s.dir], "deleted-log");
  },
  60_000,
);
