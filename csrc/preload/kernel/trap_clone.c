/* A raw clone, clone3, fork or vfork that makes a new process, trapped by the seccomp layer
 * (seccomp.c; the filter passes a clone with CLONE_THREAD or CLONE_SETTLS, or CLONE_VM without
 * CLONE_VFORK, in the kernel): made here, as syscall() makes it (clone_pids.c), so that the parent gets the child's
 * virtual pid, CLONE_PARENT_SETTID's and CLONE_CHILD_SETTID's tids are virtual, and the child
 * takes its own virtual pid before it goes on. Both return through the SIGSYS handler: the
 * child on its copy of the stack, then on the stack the caller gave (its RSP in the frame). */
#include <linux/sched.h>
#include <string.h>
#include <ucontext.h>

#include "../core/amber.h"

/* The result of the call; `own` is 0 for a call from libc (glibc's fork under the library's
 * fork wrapper, glibc's clone under its clone wrapper), which do their own bookkeeping. */
long amber_trap_clone(long nr, const long in[6], int own, greg_t *rsp) {
  long a[5] = {in[0], in[1], in[2], in[3], in[4]};
  struct clone_args ca;
  uint64_t flags = 17 /* SIGCHLD */, stack = 0;
  pid_t *ptid = NULL, *ctid = NULL;
  if (nr == SYS_vfork) nr = SYS_fork; /* its child would borrow the stack the handler runs on */
  if (nr == SYS_clone) {
    /* A vfork-like child (Go's fork for exec) on the caller's stack would write over the
     * handler's frames: it gets a copy of the memory instead, and the caller still waits for
     * its exec (CLONE_VFORK). */
    if ((a[0] & CLONE_VM) && (a[0] & CLONE_VFORK)) a[0] &= ~(long)(CLONE_VM | CLONE_SIGHAND);
    flags = (uint64_t)a[0];
    stack = (uint64_t)a[1];
    a[1] = 0;
    ptid = flags & CLONE_PIDFD ? NULL : (pid_t *)a[2]; /* with CLONE_PIDFD it holds the pidfd */
    ctid = (pid_t *)a[3];
  } else if (nr == SYS_clone3) {
    size_t size = (size_t)a[1];
    if (!a[0] || size < CLONE_ARGS_SIZE_VER0) return -EINVAL;
    memset(&ca, 0, sizeof ca);
    memcpy(&ca, (const void *)a[0], size < sizeof ca ? size : sizeof ca);
    /* A thread cannot return through the handler: ENOSYS, and glibc (as other callers of
     * clone3) falls back to clone, which the filter lets through. */
    if (ca.flags & (CLONE_VM | CLONE_THREAD | CLONE_SETTLS)) return -ENOSYS;
    if (size >= CLONE_ARGS_SIZE_VER1 && ca.set_tid_size) return -EINVAL; /* the pid is Amber's */
    if (ca.stack) stack = ca.stack + ca.stack_size;
    ca.stack = ca.stack_size = 0;
    a[0] = (long)&ca;
    a[1] = size < sizeof ca ? (long)size : (long)sizeof ca;
    flags = ca.flags;
    ptid = (pid_t *)(uintptr_t)ca.parent_tid;
    ctid = (pid_t *)(uintptr_t)ca.child_tid;
  }
  own = own && amber_active();
  uint64_t mask;
  amber_ckpt_hold(&mask);
  long r = amber_sys6(nr, a[0], a[1], a[2], a[3], a[4], AMBER_SECCOMP_MAGIC);
  if (r == 0) {
    if (own) amber_clone_child(flags, ctid);
    amber_ckpt_release(&mask);
    if (stack) *rsp = (greg_t)stack;
    return 0;
  }
  int32_t v = r > 0 && own ? amber_clone_parent((pid_t)r, flags, ptid) : -1;
  amber_ckpt_release(&mask);
  return r <= 0 ? r : v > 0 ? v : r;
}
