/**
 * A program run at the lowest priorities (`ionice -c3 chrt -i 0`, as a backup job is) keeps its
 * scheduling policy and I/O priority through a restore: it once came back with the restorer's
 * (SCHED_OTHER, best-effort I/O), without a word.
 */

import { scenarioTest } from "./support.ts";

const SCRIPT = `
prio() { echo "$(chrt -p $$ | tr '\\n' ' ') $(ionice -p $$)"; }
before=$(prio)
echo ready
while [ ! -e "$1/go" ]; do sleep 0.02; done
after=$(prio)
case "$before" in *SCHED_IDLE*idle*) ;; *) echo "FAIL: not started idle: $before"; exit 1;; esac
if [ "$before" = "$after" ]; then echo PASS; else echo "FAIL: $before, now $after"; fi
`;

scenarioTest(
  "a program under ionice -c3 and chrt -i keeps its scheduling policy and I/O priority",
  async (s) => {
    const idle = ["ionice", "-c3", "chrt", "-i", "0"];
    await s.roundTrip([...idle, "sh", "-c", SCRIPT, "sh", s.dir], "sched");
  },
  60_000,
);
