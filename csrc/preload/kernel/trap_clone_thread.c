/* A raw clone of a thread without a TLS of its own (CLONE_THREAD without CLONE_SETTLS, on a
 * stack the caller gives), from the program's own code, trapped by the seccomp layer
 * (seccomp.c): the creator is told the thread's virtual tid, CLONE_PARENT_SETTID's and
 * CLONE_CHILD_SETTID's words hold it, and the thread names itself by it (raw_threads.c).
 *
 * The thread is registered before either side of the clone runs the program: with every signal
 * held, the handler takes its row (the virtual tid) and makes its TLS, then makes the call; the
 * thread starts with those signals still held (the mask is its creator's at the call), writes
 * its system tid into its row and entry, and only then returns to the program by rt_sigreturn
 * on a copy of the signal frame below its stack (as trap_clone_vm.c), which gives it the
 * program's mask. The creator writes the same tid when the call returns, before it lets signals
 * in. A snapshot's signal reaches neither before the thread is in the table: the agent sees it
 * registered or not yet made. */
#include <linux/sched.h>
#include <signal.h>
#include <ucontext.h>

#include "../core/amber.h"
#include "raw_threads.h"

/* trap_vfork.c */
size_t amber_signal_frame_span(ucontext_t *uc);
void amber_signal_frame_copy(ucontext_t *uc, char *copy, size_t span);

/* The call's result; 1 in *done only when made here (else the caller passes it on). */
long amber_trap_clone_thread(const long a[6], ucontext_t *uc, int *done) {
  uint64_t flags = (uint64_t)a[0], stack = (uint64_t)a[1];
  size_t span = amber_signal_frame_span(uc);
  *done = 0;
  if (!amber_active() || !(flags & CLONE_VM) || (flags & CLONE_VFORK) || !stack || !span ||
      stack < span + 256)
    return 0;
  pid_t *ptid = (pid_t *)a[2], *ctid = (pid_t *)a[3];
  uint64_t all = ~0ULL, old;
  amber_sys4(SYS_rt_sigprocmask, SIG_BLOCK, &all, &old, 8);
  int err;
  struct amber_raw_thread *r =
      amber_raw_thread_new(flags, flags & CLONE_PIDFD ? NULL : ptid, ctid, &err);
  if (!r) {
    amber_sys4(SYS_rt_sigprocmask, SIG_SETMASK, &old, 0, 8);
    amber_log("a raw clone of a thread without a TLS of its own failed: no virtual tid for it (%d)",
              err);
    *done = 1;
    return -err;
  }
  char *copy = (char *)(((stack - span - 128) & ~63ULL) + (((uintptr_t)uc - 8) & 63));
  if (copy + span > (char *)stack) copy -= 64;
  amber_signal_frame_copy(uc, copy, span);
  ucontext_t *cuc = (ucontext_t *)(copy + 8);
  cuc->uc_mcontext.gregs[REG_RAX] = 0;
  cuc->uc_mcontext.gregs[REG_RSP] = (greg_t)stack;
  /* sigreturn sets the alternate stack the frame names: a new thread has none (the kernel's
   * clone gives a CLONE_VM child none), and must not share its creator's */
  cuc->uc_stack.ss_sp = NULL;
  cuc->uc_stack.ss_size = 0;
  cuc->uc_stack.ss_flags = SS_DISABLE;
  /* The kernel writes no system tid anywhere: the thread and its creator write the virtual one. */
  long call = (long)(flags & ~(uint64_t)(CLONE_PARENT_SETTID | CLONE_CHILD_SETTID));
  int32_t vtid = r->vtid;
  r->start.fn = amber_raw_thread_born;
  r->start.arg = r;
  long ret = amber_clone_vm_call(call, copy + 8, ptid, ctid, a[4], &r->start);
  amber_raw_thread_made(r, (int32_t)ret);
  amber_sys4(SYS_rt_sigprocmask, SIG_SETMASK, &old, 0, 8);
  *done = 1;
  return ret > 0 ? vtid : ret;
}
