/* A process that was stopped when the snapshot came stops itself again, by the signal that had
 * stopped it: its parent's uncollected stop report then says SIGTSTP, SIGTTIN or SIGTTOU as
 * before (WSTOPSIG), not SIGSTOP. The kernel makes a job-control signal stop the process only
 * where its action is the default one and its process group is not orphaned (it discards the
 * signal otherwise, kernel/signal.c get_signal): there SIGSTOP stops it instead, since a stopped
 * process must stay stopped whatever its report says. */
#include <signal.h>

#include "agent.h"

static int job_control(int sig) { return sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU; }

/* Fields 4 to 6 of /proc/<pid>/stat: parent, process group, session; -1 if unreadable. */
static int ids_of(int32_t pid, long ids[3]) {
  char path[48], text[512];
  amber_fmt(path, sizeof path, "/proc/%d/stat", pid);
  long n = amber_read_file(path, text, sizeof text - 1);
  if (n <= 0) return -1;
  text[n] = 0;
  const char *p = text + n;
  while (p > text && *p != ')') p--; /* the command may hold spaces and parentheses */
  if (*p != ')') return -1;
  p += 4; /* ") S " */
  for (int f = 0; f < 3; f++) {
    uint64_t v;
    if (amber_parse_u64(&p, &v, 10)) return -1;
    ids[f] = (long)v;
    while (*p == ' ') p++;
  }
  return 0;
}

/* Whether the kernel would call this process's group orphaned (will_become_orphaned_pgrp): no
 * member has a parent in another group of the same session. 1 when that cannot be known. */
static int group_orphaned(void) {
  static int32_t pids[32768];
  long self[3];
  int n = amber_list_numbers("/proc", pids, 32768);
  if (n < 0 || ids_of(amber_sys_getpid(), self)) return 1;
  for (int i = 0; i < n; i++) {
    long member[3], parent[3];
    if (ids_of(pids[i], member) || member[1] != self[1] || member[0] <= 1) continue;
    if (ids_of((int32_t)member[0], parent)) continue;
    if (parent[1] != self[1] && parent[2] == member[2]) return 0;
  }
  return 1;
}

int amber_self_stop_signal;

void amber_stop_self(int sig, int32_t *sent) {
  struct amber_ksigaction action;
  if (job_control(sig) &&
      (amber_sys4(SYS_rt_sigaction, sig, 0, &action, 8) || action.handler != 0 /* SIG_DFL */ ||
       group_orphaned()))
    sig = SIGSTOP;
  amber_self_stop_signal = sig;
  if (!job_control(sig)) {
    amber_sys2(SYS_kill, amber_sys_getpid(), SIGSTOP); /* stopped on the way out: the
                                                          coordinator sees state T */
    if (sent) __atomic_store_n(sent, 0, __ATOMIC_RELEASE);
    return;
  }
  /* Every signal is blocked in the handler: this thread lets this one in for a moment, and
   * stops as the call that unblocks it returns. */
  uint64_t one = 1ULL << (sig - 1), was;
  amber_sys3(SYS_tgkill, amber_sys_getpid(), amber_sys_gettid(), sig);
  if (sent) __atomic_store_n(sent, 0, __ATOMIC_RELEASE); /* pending: a SIGCONT now removes it */
  amber_sys4(SYS_rt_sigprocmask, SIG_UNBLOCK, &one, &was, 8);
  amber_sys4(SYS_rt_sigprocmask, SIG_SETMASK, &was, 0, 8);
}
