/* clone's new process, through glibc's clone (wrap_fork.c) or through syscall(): its row is
 * adopted under its real parent (the caller's parent with CLONE_PARENT), and the tids that
 * the kernel writes for CLONE_PARENT_SETTID and CLONE_CHILD_SETTID are made virtual. */
#include <linux/sched.h>
#include <string.h>

#include "../core/amber.h"

int32_t amber_clone_parent(pid_t child, uint64_t flags, pid_t *ptid) {
  int32_t parent = flags & CLONE_PARENT ? amber_sys_getppid() : amber_sys_getpid();
  int32_t v = amber_pid_adopt(child, parent, AMBER_PID_PROCESS);
  if (v > 0 && ptid && (flags & CLONE_PARENT_SETTID)) *ptid = v;
  return v;
}

void amber_clone_child(uint64_t flags, pid_t *ctid) {
  amber_after_fork_child();
  if (ctid && (flags & CLONE_CHILD_SETTID)) *ctid = amber.vpid;
}

/* A new process from syscall(SYS_clone / clone3 / fork / vfork) that returns on the caller's
 * own stack (no new stack given): like fork, the child takes its row before it returns. A
 * thread, or a child on a stack of its own, is the caller's business (returns 0). */
int amber_syscall_clone(long nr, const long a[6], long *ret) {
  uint64_t flags = 17 /* SIGCHLD: fork and vfork */;
  pid_t *ptid = NULL, *ctid = NULL;
  if (nr == SYS_clone) {
    if (a[1]) return 0;
    flags = (uint64_t)a[0];
    ptid = flags & CLONE_PIDFD ? NULL : (pid_t *)a[2]; /* with CLONE_PIDFD it holds the pidfd */
    ctid = (pid_t *)a[3];
  } else if (nr == SYS_clone3) {
    struct clone_args *ca = (struct clone_args *)a[0];
    if (!ca || (size_t)a[1] < CLONE_ARGS_SIZE_VER0 || ca->stack) return 0;
    if ((size_t)a[1] >= CLONE_ARGS_SIZE_VER1 && ca->set_tid_size) {
      /* The program cannot choose a virtual pid: it is Amber's to give. */
      errno = EINVAL;
      *ret = -1;
      return 1;
    }
    flags = ca->flags;
    ptid = (pid_t *)(uintptr_t)ca->parent_tid;
    ctid = (pid_t *)(uintptr_t)ca->child_tid;
  } else if (nr != SYS_fork && nr != SYS_vfork) {
    return 0;
  }
  if (flags & (CLONE_VM | CLONE_THREAD)) return 0;
  uint64_t mask;
  amber_ckpt_hold(&mask);
  /* vfork's child would borrow this stack; like the vfork wrapper, it gets a real fork. */
  long r = amber_libc_ret(
      amber_sys5(nr == SYS_vfork ? SYS_fork : nr, a[0], a[1], a[2], a[3], a[4])); /* past it */
  if (r == 0) {
    amber_clone_child(flags, ctid);
    amber_ckpt_release(&mask);
    *ret = 0;
    return 1;
  }
  int32_t v = r > 0 ? amber_clone_parent((pid_t)r, flags, ptid) : -1;
  amber_ckpt_release(&mask);
  *ret = r <= 0 ? r : v > 0 ? v : r;
  return 1;
}
