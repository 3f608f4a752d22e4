/**
 * POSIX timers on CPU clocks (a thread's own, another thread's, the process's) are saved and
 * made again on the restored thread's or process's clock; a thread's CPU time goes on.
 */

import { prog, type Scenario, scenarioTest } from "./support.ts";

/** A snapshot without stop, the original ended, a restore; that frozen and restored; then go. */
async function twoCycles(s: Scenario, name: string, tag: string): Promise<void> {
  const app = await s.launch([prog(name), s.dir], tag);
  await s.waitFor(/^ready$/m);
  await app.snapshot({ dir: `${s.dir}/running.amber` });
  await app.kill();
  const again = await s.restore(`${s.dir}/running.amber`);
  await s.restore(await s.freeze(again, "second"));
  await s.pass();
}

scenarioTest(
  "POSIX timers on a thread's own CPU clock, another thread's and the process's go on firing, each on its own clock",
  async (s) => {
    const app = await s.launch([prog("cpu_clock_timers"), s.dir], "cputimers");
    await s.waitFor(/^ready$/m);
    await app.snapshot({ dir: `${s.dir}/running.amber` });
    const again = await s.restore(await s.freeze(app));
    await again.snapshot({ dir: `${s.dir}/second-running.amber` });
    await s.restore(await s.freeze(again, "second"));
    await s.pass();
  },
);

scenarioTest(
  "CPU clock IDs a program keeps (its threads', its own, its child's) read the same threads and processes after two restores",
  async (s) => {
    await twoCycles(s, "cpu_clock_ids", "clockids");
  },
);

scenarioTest(
  "a thread's CPU clock goes on from where it was, read by the thread and by another, never back, twice",
  async (s) => {
    await twoCycles(s, "thread_cpu_time", "threadcpu");
  },
);

scenarioTest(
  "the process's CPU clock goes on from where it was, read by the process (clock_gettime, clock, times, getrusage, also past an exec) and by its child, and an absolute sleep on it wakes on time, twice",
  async (s) => {
    await twoCycles(s, "process_cpu_time", "processcpu");
  },
);

scenarioTest(
  "interval timers on CPU time (ITIMER_PROF, ITIMER_VIRTUAL) come back with their exact time left and interval, then fire on time, twice",
  (s) => twoCycles(s, "cpu_itimers", "itimers"),
);

scenarioTest(
  "POSIX timers on CPU clocks armed at an absolute time after a restore fire at that time on the clock the program reads, and a saved one keeps its time left, twice",
  (s) => twoCycles(s, "cpu_timer_abstime", "abstime"),
);

scenarioTest(
  "raw clock calls on CPU clocks from the program's code (clock_gettime, clock_getres, clock_nanosleep) are shifted and translated by the seccomp layer, also after a restore",
  (s) => s.cycles([prog("raw_cpu_clock"), s.dir], "raw-cpu-clock"),
);

scenarioTest(
  "CPU times read in /proc (a process's stat, read by itself and by its child; stat and schedstat of its threads) go on from where they were, twice",
  (s) => twoCycles(s, "proc_cpu_stat", "procstat"),
);

scenarioTest(
  "reaped children's CPU time (times, RUSAGE_CHILDREN, /proc stat) and a thread's RUSAGE_THREAD go on, and a child reaped after the restore brings its time before it, twice",
  async (s) => {
    await twoCycles(s, "children_cpu_times", "children-times");
  },
);

scenarioTest(
  "a reaped child's rusage asked for raw (waitid, wait4) and through syscall() holds its CPU time before the restore, and libc's waitid leaves none of it to the next wait4, twice",
  (s) => s.cycles([prog("raw_child_rusage"), s.dir], "raw-child-rusage"),
);
