/* Wrappers for calls that take or return process and thread IDs. */
#include <stdarg.h>
#include <string.h>

#include "../core/amber.h"
#include "cpu_clock.h"
#include "../kernel/raw_threads.h"

/* A system pid from the kernel as the program sees it: virtual when the process is in the
 * application, else as it is (a process outside, such as the launcher, keeps its own pid;
 * wrap_sysv.c's pid_out_or_zero hides such a pid instead, as an IPC object's creator). */
static pid_t pid_out(pid_t spid) {
  if (spid <= 0) return spid;
  int32_t v = amber_pid_s2v(spid);
  return v < 0 ? spid : v;
}

static int fail(int err) {
  errno = err;
  return -1;
}

AMBER_EXPORT pid_t getpid(void) {
  if (!amber_active()) return REAL(getpid)();
  return amber_vfork_child || amber_vm_shared ? amber_pid_s2v(amber_sys_getpid()) : amber.vpid;
}

AMBER_EXPORT pid_t getppid(void) {
  if (!amber_active()) return REAL(getppid)();
  int32_t v = amber_pid_s2v(amber_sys_getppid());
  /* A parent outside the application (impossible but for a race with reparenting to the
   * supervisor) is shown as the supervisor, the application's init. */
  return v > 0 ? v : amber.table->vpid_base;
}

AMBER_EXPORT pid_t gettid(void) {
  if (!amber_active()) return REAL(gettid)();
  if (amber_vfork_child || (amber_vm_shared && amber_sys_gettid() == amber_sys_getpid()))
    return amber_pid_s2v(amber_sys_gettid());
  int32_t v = amber_raw_thread_vtid(); /* its TLS (amber_vtid) is its creator's */
  if (v > 0) return v;
  v = amber_self_vtid();
  return v > 0 ? v : amber_sys_gettid();
}

AMBER_EXPORT int kill(pid_t pid, int sig) {
  if (!amber_active()) return REAL(kill)(pid, sig);
  pid_t s;
  int err = amber_pid_in(pid, &s);
  return err ? fail(-err) : REAL(kill)(s, sig);
}

AMBER_EXPORT int tgkill(pid_t tgid, pid_t tid, int sig) {
  if (!amber_active()) return REAL(tgkill)(tgid, tid, sig);
  int32_t stgid = amber_pid_v2s(tgid), stid = amber_pid_v2s(tid);
  if (stgid < 0 || stid < 0) return fail(ESRCH);
  return REAL(tgkill)(stgid, stid, sig);
}

AMBER_EXPORT int sigqueue(pid_t pid, int sig, const union sigval value) {
  if (!amber_active()) return REAL(sigqueue)(pid, sig, value);
  int32_t s = amber_pid_v2s(pid);
  return s < 0 ? fail(ESRCH) : REAL(sigqueue)(s, sig, value);
}

/* A reaped child gives its row back, after its pid was translated (child_rows.c: even when a
 * checkpoint came between the kernel's answer and this). */
static pid_t reaped(pid_t spid, int status_known, int status, uint32_t gen) {
  return amber_reaped_out(spid, gen, status_known && (WIFEXITED(status) || WIFSIGNALED(status)));
}

AMBER_EXPORT pid_t wait4(pid_t pid, int *wstatus, int options, struct rusage *ru) {
  if (!amber_active()) return REAL(wait4)(pid, wstatus, options, ru);
  pid_t s;
  int err = amber_pid_in(pid, &s);
  if (err) return fail(ECHILD);
  int status = 0;
  uint32_t gen = amber.checkpoints;
  pid_t r = REAL(wait4)(s, &status, options, ru);
  if (wstatus) *wstatus = status;
  pid_t v = reaped(r, 1, status, gen);
  if (r > 0) amber_process_reaped_rusage(ru);
  /* The child asked for by pid is the one that came back, even when a snapshot and restore
   * landed between the kernel's answer and its translation (its system pid is then stale). */
  return r > 0 && pid > 0 ? pid : v;
}

AMBER_EXPORT pid_t waitpid(pid_t pid, int *wstatus, int options) {
  return wait4(pid, wstatus, options, NULL);
}
AMBER_EXPORT pid_t wait(int *wstatus) { return wait4(-1, wstatus, 0, NULL); }
AMBER_EXPORT pid_t wait3(int *wstatus, int options, struct rusage *ru) {
  return wait4(-1, wstatus, options, ru);
}

/* waitid's id in (P_PGID 0 is the caller's group), and the child it reports out. */
int amber_waitid_in(int idtype, id_t *id) {
  if ((idtype != P_PID && idtype != P_PGID) || *id == 0) return 0;
  if (amber_raw_ids && *id < AMBER_VPID_MIN) return 0; /* a raw call's system id (seccomp.c) */
  int32_t s = amber_pid_v2s((int32_t)*id);
  if (s < 0) return -ECHILD;
  *id = (id_t)s;
  return 0;
}

void amber_waitid_out(siginfo_t *info, int options, uint32_t gen) {
  if (!info || info->si_pid <= 0) return;
  int gone = info->si_code == CLD_EXITED || info->si_code == CLD_KILLED ||
             info->si_code == CLD_DUMPED;
  info->si_pid = amber_reaped_out(info->si_pid, gen, gone && !(options & WNOWAIT));
}

AMBER_EXPORT int waitid(idtype_t idtype, id_t id, siginfo_t *info, int options) {
  if (!amber_active()) return REAL(waitid)(idtype, id, info, options);
  int err = amber_waitid_in(idtype, &id);
  if (err) return fail(-err);
  uint32_t gen = amber.checkpoints;
  int r = REAL(waitid)(idtype, id, info, options);
  if (r == 0) amber_waitid_out(info, options, gen);
  amber_process_reaped_rusage(NULL); /* no rusage: a reaped child's time is not the next wait4's */
  return r;
}

AMBER_EXPORT pid_t getpgid(pid_t pid) {
  if (!amber_active()) return REAL(getpgid)(pid);
  pid_t s = 0;
  if (pid && amber_pid_in(pid, &s)) return fail(ESRCH);
  pid_t r = (pid_t)amber_libc_ret(amber_sys1(SYS_getpgid, s)); /* past the seccomp filter */
  return r < 0 ? r : pid_out(r);
}

AMBER_EXPORT pid_t getpgrp(void) { return getpgid(0); }

/* A process that leads a session or a group keeps its row after it exits (table.h). */
static void mark_leader(pid_t vpid) {
  struct amber_row *row = amber_row_by_vid(amber.table, AMBER_KIND_PID, vpid);
  if (row) __atomic_or_fetch(&row->flags, AMBER_PID_LEADER, __ATOMIC_ACQ_REL);
}

AMBER_EXPORT int setpgid(pid_t pid, pid_t pgid) {
  if (!amber_active()) return REAL(setpgid)(pid, pgid);
  pid_t spid = 0, spgid = 0;
  if (pid && amber_pid_in(pid, &spid)) return fail(ESRCH);
  if (pgid && amber_pid_in(pgid, &spgid)) return fail(EPERM);
  int r = REAL(setpgid)(spid, spgid);
  pid_t who = pid ? pid : amber.vpid;
  if (r == 0 && (pgid == 0 || pgid == who)) mark_leader(who);
  return r;
}

AMBER_EXPORT pid_t getsid(pid_t pid) {
  if (!amber_active()) return REAL(getsid)(pid);
  pid_t s = 0;
  if (pid && amber_pid_in(pid, &s)) return fail(ESRCH);
  pid_t r = (pid_t)amber_libc_ret(amber_sys1(SYS_getsid, s));
  return r < 0 ? r : pid_out(r);
}

AMBER_EXPORT pid_t setsid(void) {
  pid_t r = (pid_t)amber_libc_ret(amber_sys0(SYS_setsid));
  if (!amber_active() || r <= 0) return r;
  mark_leader(amber.vpid);
  return pid_out(r);
}

/* Raw syscall() for the ID calls that programs commonly make through it. */
AMBER_EXPORT long syscall(long number, ...) {
  va_list ap;
  va_start(ap, number);
  long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long);
  long d = va_arg(ap, long), e = va_arg(ap, long), f = va_arg(ap, long);
  va_end(ap);
  if (amber_active()) {
    switch (number) {
    case SYS_getpid: return getpid();
    case SYS_getppid: return getppid();
    case SYS_gettid: return gettid();
    case SYS_kill: return kill((pid_t)a, (int)b);
    case SYS_tgkill: return tgkill((pid_t)a, (pid_t)b, (int)c);
    case SYS_tkill: {
      int32_t s = amber_pid_v2s((int32_t)a);
      if (s < 0) return fail(ESRCH);
      a = s;
      break;
    }
    default: {
      long args[6] = {a, b, c, d, e, f}, r;
      if (amber_syscall_pids(number, args, &r)) return r;
    }
    }
  }
  return REAL(syscall)(number, a, b, c, d, e, f);
}
