/**
 * A program run at the lowest priorities (`ionice -c3 chrt -i 0`, as a backup job is) keeps its
 * scheduling policy and I/O priority through a restore: it once came back with the restorer's
 * (SCHED_OTHER, best-effort I/O), without a word. And threads of one process that set their
 * own (a lower nice value, idle I/O and one CPU for a background thread, SCHED_BATCH for
 * another, SCHED_IDLE for one that blocks every signal and is seized) keep each their own:
 * they came back with the main thread's.
 */

import { prog, scenarioTest } from "./support.ts";

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

scenarioTest(
  "threads keep their own nice value, policy, I/O priority and CPU affinity, a seized one too",
  (s) => s.cycles([prog("thread_priorities"), s.dir], "threadprio"),
  60_000,
);
