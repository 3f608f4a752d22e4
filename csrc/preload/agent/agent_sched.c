/* The scheduling policy (SCHED_BATCH, SCHED_IDLE, a real-time one: chrt) and the I/O priority
 * (ionice), which a restored thread would otherwise take from the restorer: a backup run under
 * `ionice -c3 chrt -i 0` came back competing with everything, without a word. Saved while
 * frozen (the leader's, as the nice value is) and set again in every thread, before its change
 * of user (a real-time policy may need the restorer's privilege). */
#include <stdint.h>

#include "agent.h"

#define SCHED_ATTR_SIZE_VER0 48
#define IOPRIO_WHO_PROCESS 1 /* with 0: the calling thread */

static struct {
  int32_t have_attr, ioprio;
  uint32_t attr[SCHED_ATTR_SIZE_VER0 / 4]; /* struct sched_attr, its first version */
} sched; /* saved with memory */

void amber_sched_capture(void) {
  sched.have_attr = amber_sys4(SYS_sched_getattr, 0, sched.attr, SCHED_ATTR_SIZE_VER0, 0) == 0;
  sched.ioprio = (int32_t)amber_sys2(SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0);
}

void amber_sched_thread_after_restore(void) {
  if (sched.have_attr) {
    uint32_t now[SCHED_ATTR_SIZE_VER0 / 4];
    /* the policy (attr[1]), its flags, nice and priority, and a deadline's times */
    if (amber_sys4(SYS_sched_getattr, 0, now, SCHED_ATTR_SIZE_VER0, 0) < 0 ||
        __builtin_memcmp(now + 1, sched.attr + 1, SCHED_ATTR_SIZE_VER0 - 4)) {
      sched.attr[0] = SCHED_ATTR_SIZE_VER0;
      long err = amber_sys3(SYS_sched_setattr, 0, sched.attr, 0);
      if (err < 0) amber_log("restore: cannot set the scheduling policy back (%ld)", err);
    }
  }
  if (sched.ioprio >= 0 && amber_sys2(SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0) != sched.ioprio)
    amber_sys3(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, sched.ioprio);
}
