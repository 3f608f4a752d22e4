/* syscall() with the number of a call that names a process: the raw arguments get the same
 * translation as the libc wrappers give theirs. Calls whose raw form means the same as libc's
 * go to the wrapper; the rest are translated here and made raw. */
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/times.h>
#include <sys/wait.h>

#include "../core/amber.h"
#include "cpu_clock.h"

static long raw(long nr, const long a[6]) {
  return REAL(syscall)(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* A pid argument, 0 being the caller (amber_who_in). */
static int who(long *arg) {
  int32_t s;
  int err = amber_who_in((int32_t)*arg, &s);
  if (!err) *arg = s;
  return err;
}

/* Calls whose raw form is libc's: 1 and *ret when nr is one. */
static int through_wrapper(long nr, const long a[6], long *ret) {
  switch (nr) {
  case SYS_getpgid: *ret = getpgid((pid_t)a[0]); return 1;
  case SYS_setpgid: *ret = setpgid((pid_t)a[0], (pid_t)a[1]); return 1;
  case SYS_getsid: *ret = getsid((pid_t)a[0]); return 1;
  case SYS_getpgrp: *ret = getpgrp(); return 1;
  case SYS_setsid: *ret = setsid(); return 1;
  case SYS_wait4:
    *ret = wait4((pid_t)a[0], (int *)a[1], (int)a[2], (struct rusage *)a[3]);
    return 1;
  case SYS_capget: *ret = capget((void *)a[0], (void *)a[1]); return 1;
  case SYS_capset: *ret = capset((void *)a[0], (const void *)a[1]); return 1;
  case SYS_getsockopt:
    *ret = getsockopt((int)a[0], (int)a[1], (int)a[2], (void *)a[3], (socklen_t *)a[4]);
    return 1;
  case SYS_getrusage: *ret = getrusage((int)a[0], (struct rusage *)a[1]); return 1;
  case SYS_times: *ret = times((struct tms *)a[0]); return 1; /* ticks since boot: as raw */
  case SYS_sendmsg: *ret = sendmsg((int)a[0], (const struct msghdr *)a[1], (int)a[2]); return 1;
  case SYS_recvmsg: *ret = recvmsg((int)a[0], (struct msghdr *)a[1], (int)a[2]); return 1;
  case SYS_sendmmsg:
    *ret = sendmmsg((int)a[0], (struct mmsghdr *)a[1], (unsigned)a[2], (int)a[3]);
    return 1;
  case SYS_recvmmsg:
    *ret = recvmmsg((int)a[0], (struct mmsghdr *)a[1], (unsigned)a[2], (int)a[3],
                    (struct timespec *)a[4]);
    return 1;
  case SYS_fcntl:
    if (a[1] != F_SETOWN && a[1] != F_GETOWN && a[1] != F_SETOWN_EX && a[1] != F_GETOWN_EX)
      return 0;
    *ret = amber_fcntl_owner(REAL(fcntl), (int)a[0], (int)a[1], (void *)a[2]);
    return 1;
  case SYS_rt_sigtimedwait: /* a[3], the set's size, is what libc gives too */
    *ret = sigtimedwait((const sigset_t *)a[0], (siginfo_t *)a[1], (const struct timespec *)a[2]);
    return 1;
  case SYS_ioctl:
    if (!amber_ioctl_has_pid((unsigned long)a[1])) return 0;
    *ret = amber_ioctl_pid(REAL(ioctl), (int)a[0], (unsigned long)a[1], (void *)a[2]);
    return 1;
  case SYS_open: *ret = open((const char *)a[0], (int)a[1], (mode_t)a[2]); return 1;
  case SYS_openat:
    *ret = openat((int)a[0], (const char *)a[1], (int)a[2], (mode_t)a[3]);
    return 1;
  case SYS_timer_settime: /* an absolute time on a CPU clock (cpu_timers.c) */
    *ret = timer_settime((timer_t)(intptr_t)a[0], (int)a[1], (const struct itimerspec *)a[2],
                         (struct itimerspec *)a[3]);
    return 1;
  case SYS_clock_gettime: *ret = clock_gettime((clockid_t)a[0], (struct timespec *)a[1]); return 1;
  case SYS_clock_getres: *ret = clock_getres((clockid_t)a[0], (struct timespec *)a[1]); return 1;
  case SYS_clock_nanosleep: { /* libc's returns the error, the raw call -1 and errno */
    int err = clock_nanosleep((clockid_t)a[0], (int)a[1], (const struct timespec *)a[2],
                              (struct timespec *)a[3]);
    *ret = err ? (errno = err, -1) : 0;
    return 1;
  }
  case SYS_set_tid_address: /* returns the caller's tid */
    *ret = raw(nr, a);
    if (*ret > 0) *ret = gettid();
    return 1;
  }
  return 0;
}

/* waitid blocks: outside a critical section, like the libc wrapper. Its fifth argument, the
 * rusage, is the raw call's own: a reaped child's time before its restore goes into it, as
 * wait4's wrapper adds it to wait4's. */
static long raw_waitid(const long in[6]) {
  long a[6] = {in[0], in[1], in[2], in[3], in[4], in[5]};
  id_t id = (id_t)a[1];
  int err = amber_waitid_in((int)a[0], &id);
  if (err) {
    errno = -err;
    return -1;
  }
  a[1] = (long)id;
  uint32_t gen = amber.checkpoints;
  long r = raw(SYS_waitid, a);
  if (r == 0) amber_waitid_out((siginfo_t *)a[2], (int)a[3], gen);
  amber_process_reaped_rusage(r == 0 ? (struct rusage *)a[4] : NULL);
  return r;
}

/* Room for a translated copy of what an argument points to. */
union scratch {
  siginfo_t info;
  struct sigevent ev;
};

/* Translates the arguments of a call made raw here: 0 and -errno, or 1 for a number that is
 * not one of these calls. */
static int translate(long nr, long a[6], union scratch *copy) {
  switch (nr) {
  case SYS_sched_setscheduler:
  case SYS_sched_getscheduler:
  case SYS_sched_setparam:
  case SYS_sched_getparam:
  case SYS_sched_setaffinity:
  case SYS_sched_getaffinity:
  case SYS_sched_setattr:
  case SYS_sched_getattr:
  case SYS_sched_rr_get_interval:
  case SYS_prlimit64:
  case SYS_get_robust_list:
  case SYS_migrate_pages:
  case SYS_move_pages:
  case SYS_process_vm_readv:
  case SYS_process_vm_writev:
  case SYS_pidfd_open:
    return who(&a[0]);
  case SYS_kcmp: {
    int err = who(&a[0]);
    return err ? err : who(&a[1]);
  }
  case SYS_perf_event_open: return who(&a[1]); /* -1: any process */
  case SYS_getpriority:
  case SYS_setpriority: return a[0] == PRIO_PROCESS || a[0] == PRIO_PGRP ? who(&a[1]) : 0;
  case SYS_ioprio_get:
  case SYS_ioprio_set: /* IOPRIO_WHO_PROCESS 1, IOPRIO_WHO_PGRP 2, IOPRIO_WHO_USER 3 */
    return a[0] == 1 || a[0] == 2 ? who(&a[1]) : 0;
  case SYS_rt_sigqueueinfo:
    a[2] = (long)amber_siginfo_in((const siginfo_t *)a[2], &copy->info);
    return who(&a[0]);
  case SYS_rt_tgsigqueueinfo: {
    a[3] = (long)amber_siginfo_in((const siginfo_t *)a[3], &copy->info);
    int err = who(&a[0]);
    return err ? err : who(&a[1]);
  }
  case SYS_timer_create: { /* a SIGEV_THREAD_ID timer names its thread */
    a[0] = amber_cpu_clock_to_system((clockid_t)a[0]);
    struct sigevent *ev = (struct sigevent *)a[1];
    if (!ev || ev->sigev_notify != SIGEV_THREAD_ID) return 0;
    int32_t s;
    if (amber_who_in(ev->_sigev_un._tid, &s) || s <= 0) return -EINVAL; /* as timer_create */
    copy->ev = *ev;
    copy->ev._sigev_un._tid = s;
    a[1] = (long)&copy->ev;
    return 0;
  }
  case SYS_timer_delete: return 0; /* made raw, then forgotten (cpu_timers.c) */
  case SYS_pidfd_send_signal:
    a[2] = (long)amber_siginfo_in((const siginfo_t *)a[2], &copy->info);
    return 0;
  }
  return 1;
}

int amber_syscall_pids(long nr, const long in[6], long *ret) {
  if (through_wrapper(nr, in, ret) || amber_syscall_clone(nr, in, ret) ||
      amber_syscall_ipc(nr, in, ret))
    return 1;
  if (nr == SYS_waitid) {
    *ret = raw_waitid(in);
    return 1;
  }
  long a[6] = {in[0], in[1], in[2], in[3], in[4], in[5]};
  union scratch copy;
  amber_enter();
  int err = translate(nr, a, &copy);
  if (err == 1) {
    amber_leave();
    return 0;
  }
  *ret = err ? (errno = -err, -1) : raw(nr, a);
  if (nr == SYS_timer_create && *ret == 0) /* its clock, for timer_settime (cpu_timers.c) */
    amber_cpu_timer_made((timer_t)(intptr_t) * (int *)in[2], (clockid_t)in[0]);
  if (nr == SYS_timer_delete && *ret == 0) amber_cpu_timer_gone((timer_t)(intptr_t)in[0]);
  amber_leave();
  return 1;
}
