/* The coordinator lets the checkpoint signal in to a thread that holds it off (a Go runtime
 * thread: see csrc/preload/agent/agent_unblock.c), when that thread's agent asks: it seizes the
 * thread with ptrace, stops it, hands its mask to the agent, takes the signal off the mask and
 * lets it go. A thread cannot trace one of its own process, so this is done from outside. Only
 * a thread of the asking slot's own process is touched, and only if that process is one of the
 * application's (the tables are the application's word, docs/trust-model.md). All of it in
 * one call, on one thread: the tracer is a thread, not a process. */
#include <errno.h>
#include <linux/futex.h>
#include <stdio.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/sys.h"
#include "../common/table.h"
#include "control.h"

#define CKPT_BIT (1ULL << (62 - 1)) /* AMBER_CKPT_SIGNAL of the interposition library */

static void answer(struct amber_unblock *u, int err) {
  u->err = -err;
  __atomic_store_n(&u->state, err ? AMBER_UNBLOCK_FAILED : AMBER_UNBLOCK_DONE, __ATOMIC_RELEASE);
  amber_sys6(SYS_futex, (long)&u->state, FUTEX_WAKE, 0x7fffffff, 0, 0, 0);
}

/* Answers before letting the thread go: once it runs, it looks for its mask in `u`. */
static void let_in(struct amber_table *t, int32_t pid, struct amber_unblock *u) {
  char path[64];
  int32_t tid = u->tid;
  snprintf(path, sizeof path, "/proc/%d/task/%d", pid, tid);
  if (pid <= 0 || tid <= 0 || access(path, F_OK)) return answer(u, -ESRCH); /* not its thread */
  if (!amber_app_member(t, pid)) return answer(u, -EPERM); /* the tables name another process */
  if (ptrace(PTRACE_SEIZE, tid, 0, 0)) return answer(u, -errno);
  int err = 0, status = 0;
  uint64_t mask = 0;
  if (ptrace(PTRACE_INTERRUPT, tid, 0, 0)) err = -errno;
  while (!err && waitpid(tid, &status, __WALL) < 0)
    if (errno != EINTR) err = -errno;
  if (!err && !WIFSTOPPED(status)) err = -ESRCH;
  if (!err && ptrace(PTRACE_GETSIGMASK, tid, sizeof mask, &mask)) err = -errno;
  uint64_t open = mask & ~CKPT_BIT;
  u->mask = mask;
  if (!err && ptrace(PTRACE_SETSIGMASK, tid, sizeof open, &open)) err = -errno;
  answer(u, err);
  /* A stop for a signal being delivered (the seccomp layer's SIGSYS, forced on a raw call)
   * gives the signal back, or it would be lost and the call skipped. */
  int sig = !err && WIFSTOPPED(status) && (status >> 16) == 0 ? WSTOPSIG(status) : 0;
  ptrace(PTRACE_DETACH, tid, 0, sig);
}

void amber_ctl_serve_unblock(struct amber_table *t) {
  struct amber_ctl *c = &t->ctl;
  for (uint32_t i = 0; i < c->nslots && i < AMBER_CTL_MAX_PROCS; i++) {
    struct amber_unblock *u = &c->unblock[i];
    if (__atomic_load_n(&u->state, __ATOMIC_ACQUIRE) != AMBER_UNBLOCK_ASKED) continue;
    int32_t pid = amber_v2s(t, AMBER_KIND_PID, c->slots[i].vpid);
    if (u->mode == AMBER_UNBLOCK_SEIZE) amber_ctl_seize(t, pid, u); /* ctl_seize.c */
    else let_in(t, pid, u);
  }
}
