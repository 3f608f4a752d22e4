/**
 * POSIX timers on CPU clocks (a thread's own, another thread's, the process's) are saved and
 * made again on the restored thread's or process's clock.
 */

import { prog, scenarioTest } from "./support.ts";

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
    const app = await s.launch([prog("cpu_clock_ids"), s.dir], "clockids");
    await s.waitFor(/^ready$/m);
    await app.snapshot({ dir: `${s.dir}/running.amber` });
    await app.kill();
    const again = await s.restore(`${s.dir}/running.amber`);
    await s.restore(await s.freeze(again, "second"));
    await s.pass();
  },
);

scenarioTest(
  "a thread's CPU clock goes on from where it was, read by the thread and by another, never back, twice",
  async (s) => {
    const app = await s.launch([prog("thread_cpu_time"), s.dir], "threadcpu");
    await s.waitFor(/^ready$/m);
    await app.snapshot({ dir: `${s.dir}/running.amber` });
    await app.kill();
    const again = await s.restore(`${s.dir}/running.amber`);
    await s.restore(await s.freeze(again, "second"));
    await s.pass();
  },
);
