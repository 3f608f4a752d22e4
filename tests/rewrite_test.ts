/**
 * Rewritten syscall sites (docs/seccomp.md): a raw system call site of the program that trapped
 * once jumps from then on to a trampoline that translates the call in the library without a
 * signal. Sites shaped like Go's stubs are rewritten, keep their virtual ids and the program's
 * registers, and stay rewritten through snapshots and restores; AMBER_SYSCALL_REWRITE=off keeps
 * every site on the trap.
 */

import { prog, scenarioTest } from "./support.ts";

const LIMIT_MS = 90_000;

scenarioTest(
  "rewritten syscall sites translate their calls without a signal, before and after restores",
  (s) => s.cycles([prog("rewrite_sites"), s.dir], "rewrite"),
  LIMIT_MS,
);

scenarioTest(
  "with AMBER_SYSCALL_REWRITE=off no site is rewritten and the trapped calls are translated",
  async (s) => {
    await s.roundTrip([prog("rewrite_sites"), s.dir, "off"], "rewrite-off");
  },
  LIMIT_MS,
);
