/* How wrappers read the pid arguments of the calls that name a process, and make the pids the
 * kernel hands back virtual. A virtual pid the table does not know fails with ESRCH: it is
 * never passed to the kernel, where it could name some other process. */
#include <string.h>

#include "amber.h"

int amber_who_in(int32_t vpid, int32_t *spid) {
  if (vpid <= 0 || !amber_active() || (amber_raw_ids && vpid < AMBER_VPID_MIN)) {
    *spid = vpid; /* 0 is the caller; a negative one gets the kernel's own error */
    return 0;
  }
  int32_t s = amber_pid_v2s(vpid);
  if (s < 0) return -ESRCH;
  *spid = s;
  return 0;
}

int amber_pid_in(int32_t vpid, int32_t *spid) {
  if (vpid >= -1) return amber_who_in(vpid, spid);
  int err = amber_who_in(-vpid, spid);
  *spid = -*spid;
  return err;
}

int32_t amber_who_out(int32_t spid) {
  if (spid <= 0 || !amber_active()) return spid;
  int32_t v = amber_pid_s2v(spid);
  return v > 0 ? v : 0;
}

/* A siginfo that a program queues names the sender in si_pid, as the program knows it
 * (virtual); the receiver's wrappers expect the system's. */
const siginfo_t *amber_siginfo_in(const siginfo_t *info, siginfo_t *copy) {
  if (!info || !amber_active() || info->si_pid < AMBER_VPID_MIN) return info;
  int32_t s = amber_pid_v2s(info->si_pid);
  if (s < 0) return info;
  memcpy(copy, info, sizeof *copy);
  copy->si_pid = s;
  return copy;
}
