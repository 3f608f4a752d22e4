/* Priorities, scheduling, affinity and limits of a process or thread named by its (virtual) ID;
 * 0 names the caller and stays 0. */
#include <sched.h>
#include <sys/resource.h>

#include "../core/amber.h"

static int fail(int err) {
  errno = err;
  return -1;
}

/* setpriority and getpriority name a process (or thread), a process group, or a user. */
static int prio_who_in(int which, id_t who, id_t *out) {
  int32_t s = (int32_t)who;
  int err = which == PRIO_PROCESS || which == PRIO_PGRP ? amber_who_in((int32_t)who, &s) : 0;
  *out = (id_t)s;
  return err;
}

AMBER_EXPORT int getpriority(__priority_which_t which, id_t who) {
  id_t s;
  amber_enter();
  int err = prio_who_in(which, who, &s);
  int r = err ? fail(-err) : REAL(getpriority)(which, s);
  amber_leave();
  return r;
}

AMBER_EXPORT int setpriority(__priority_which_t which, id_t who, int prio) {
  id_t s;
  amber_enter();
  int err = prio_who_in(which, who, &s);
  int r = err ? fail(-err) : REAL(setpriority)(which, s, prio);
  amber_leave();
  return r;
}

AMBER_EXPORT int sched_setscheduler(pid_t pid, int policy, const struct sched_param *param) {
  AMBER_WITH_PID(int, pid, REAL(sched_setscheduler)(spid, policy, param));
}

AMBER_EXPORT int sched_getscheduler(pid_t pid) {
  AMBER_WITH_PID(int, pid, REAL(sched_getscheduler)(spid));
}

AMBER_EXPORT int sched_setparam(pid_t pid, const struct sched_param *param) {
  AMBER_WITH_PID(int, pid, REAL(sched_setparam)(spid, param));
}

AMBER_EXPORT int sched_getparam(pid_t pid, struct sched_param *param) {
  AMBER_WITH_PID(int, pid, REAL(sched_getparam)(spid, param));
}

AMBER_EXPORT int sched_setaffinity(pid_t pid, size_t size, const cpu_set_t *set) {
  AMBER_WITH_PID(int, pid, REAL(sched_setaffinity)(spid, size, set));
}

AMBER_EXPORT int sched_getaffinity(pid_t pid, size_t size, cpu_set_t *set) {
  AMBER_WITH_PID(int, pid, REAL(sched_getaffinity)(spid, size, set));
}

AMBER_EXPORT int sched_rr_get_interval(pid_t pid, struct timespec *t) {
  AMBER_WITH_PID(int, pid, REAL(sched_rr_get_interval)(spid, t));
}

AMBER_EXPORT int prlimit(pid_t pid, __rlimit_resource_t res, const struct rlimit *limit,
                         struct rlimit *old) {
  AMBER_WITH_PID(int, pid, REAL(prlimit)(spid, res, limit, old));
}

AMBER_EXPORT int prlimit64(pid_t pid, __rlimit_resource_t res, const struct rlimit64 *limit,
                           struct rlimit64 *old) {
  AMBER_WITH_PID(int, pid, REAL(prlimit64)(spid, res, limit, old));
}
