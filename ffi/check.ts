/**
 * The control library's probes of this computer's kernel and CPU (`csrc/control/ctl_check.c`):
 * each feature tried for real, its errno (0: it works).
 *
 * @module
 */

import { z } from "npm:zod@4.6.7";
import { callJson } from "./control.ts";
import { library } from "./symbols.ts";

const Errno = z.int().nonnegative();

/** What `amber_ctl_check` returns. */
export const ProbesSchema = z.object({
  probes: z.object({
    seccompFilter: Errno,
    seccompUserNotif: Errno,
    ptrace: Errno,
    pagemap: Errno,
    pagemapScan: Errno,
    softDirty: Errno,
    userfaultfd: Errno,
    userfaultfdDev: Errno,
    tcpRepair: Errno,
    dirtyTracking: Errno,
  }),
  /** Yama's ptrace scope, -1 without Yama. */
  ptraceScope: z.int().min(-1),
  /** vm.unprivileged_userfaultfd, -1 if the kernel has no such setting. */
  unprivilegedUserfaultfd: z.int().min(-1),
  osxsave: z.boolean(),
  xsaveSize: z.int().nonnegative(),
  avx512f: z.boolean(),
  vdso: z.boolean(),
  minSigStack: z.int().nonnegative(),
});
/** The probes' results. */
export type Probes = z.infer<typeof ProbesSchema>;

/** Tries every kernel feature Amber relies on. */
export function probeKernel(): Probes {
  return callJson(
    "amber_ctl_check",
    (buf, cap) => library().amber_ctl_check(buf, cap),
    ProbesSchema,
  );
}
