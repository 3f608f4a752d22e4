/**
 * The kernel-side layer (docs/seccomp.md): raw system calls that name a process, made with the
 * `syscall` instruction where no libc function or syscall() can see them, get virtual ids and
 * act on the process named, before and after a restore; the program keeps its own SIGSYS.
 */

import { prog, scenarioTest } from "./support.ts";

scenarioTest(
  "raw system calls that name a process are translated by the seccomp layer, also after a restore",
  async (s) => {
    const app = await s.launch([prog("raw_pid_calls"), s.dir], "raw-pid-calls");
    await s.waitFor(/^ready$/m);
    await s.restore(await s.freeze(app));
    await s.pass();
  },
);
