/* ptrace and prctl(PR_SET_PTRACER) name a process (a thread, for ptrace) by virtual ID. What a
 * tracer learns of a new child in a fork, vfork or clone event (PTRACE_GETEVENTMSG) is a system
 * pid, given out virtual: the event stop holds the tracee inside fork, before its own wrapper has
 * adopted the child, so the tracer adopts it (both find one row by system pid). A new thread
 * (a clone event without a new process) is named virtually only once it has a virtual TID.
 * A traced process cannot be snapshotted (src/traced.ts says why). */
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>

#include "../core/util.h"
#include "../core/amber.h"

/* Whether the stopped tracee's event made a new process or thread (its message is a pid). */
static int event_names_child(int32_t tracee) {
  siginfo_t si;
  if (REAL(ptrace)(PTRACE_GETSIGINFO, tracee, 0, &si) != 0 || si.si_signo != SIGTRAP) return 0;
  int event = si.si_code >> 8;
  return event == PTRACE_EVENT_FORK || event == PTRACE_EVENT_VFORK ||
         event == PTRACE_EVENT_CLONE || event == PTRACE_EVENT_VFORK_DONE;
}

/* The thread-group leader's pid of a system TID, from /proc; 0 if unknown. */
static int32_t tgid_of(int32_t tid) {
  char path[64], buf[1024];
  amber_fmt(path, sizeof path, "/proc/%d/status", tid);
  if (amber_read_file(path, buf, sizeof buf) <= 0) return 0;
  const char *p = strstr(buf, "\nTgid:");
  return p ? (int32_t)strtol(p + 6, NULL, 10) : 0;
}

static void child_out(int32_t tracee, unsigned long *msg) {
  int32_t child = (int32_t)*msg, v = amber_pid_s2v(child);
  if (v < 0 && tgid_of(child) == child) v = amber_pid_adopt(child, tracee, AMBER_PID_PROCESS);
  if (v > 0) *msg = (unsigned long)v;
}

/* The call with its pid translated, made as libc's (PEEK requests return the word) or as the
 * raw call (they write it to *data: syscall() and the kernel-side layer). */
static long traced_call(long req, pid_t pid, void *addr, void *data, int raw) {
  if (!amber_active() || req == PTRACE_TRACEME)
    return raw ? REAL(syscall)(SYS_ptrace, req, pid, addr, data)
               : REAL(ptrace)((enum __ptrace_request)req, pid, addr, data);
  int32_t spid;
  amber_enter();
  int err = amber_who_in(pid, &spid);
  amber_leave();
  if (err) {
    errno = -err;
    return -1;
  }
  long r = raw ? REAL(syscall)(SYS_ptrace, req, spid, addr, data)
               : REAL(ptrace)((enum __ptrace_request)req, spid, addr, data);
  if (r == 0 && req == PTRACE_GETEVENTMSG && data && event_names_child(spid))
    child_out(spid, data);
  return r;
}

long amber_ptrace_raw(const long a[6]) {
  return traced_call(a[0], (pid_t)a[1], (void *)a[2], (void *)a[3], 1);
}

AMBER_EXPORT long ptrace(enum __ptrace_request req, ...) {
  va_list ap;
  va_start(ap, req);
  pid_t pid = va_arg(ap, pid_t);
  void *addr = va_arg(ap, void *);
  void *data = va_arg(ap, void *);
  va_end(ap);
  return traced_call(req, pid, addr, data, 0);
}

AMBER_EXPORT int prctl(int option, ...) {
  va_list ap;
  va_start(ap, option);
  unsigned long a2 = va_arg(ap, unsigned long), a3 = va_arg(ap, unsigned long);
  unsigned long a4 = va_arg(ap, unsigned long), a5 = va_arg(ap, unsigned long);
  va_end(ap);
  if (option == PR_SET_PTRACER && amber_active() && a2 != 0 && a2 != PR_SET_PTRACER_ANY) {
    int32_t spid;
    amber_enter();
    int err = amber_who_in((int32_t)a2, &spid);
    amber_leave();
    if (err) {
      errno = EINVAL; /* what the kernel says of a pid that names no process */
      return -1;
    }
    a2 = (unsigned long)spid;
  }
  return REAL(prctl)(option, a2, a3, a4, a5);
}
