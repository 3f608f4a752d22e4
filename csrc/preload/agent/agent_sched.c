/* Each thread's scheduling: its policy (SCHED_BATCH, SCHED_IDLE, a real-time one: chrt), nice
 * value, I/O priority (ionice) and CPU affinity, which a restored thread would otherwise take
 * from the restorer: a backup run under `ionice -c3 chrt -i 0` came back competing with
 * everything, without a word. The kernel keeps all four per thread, and programs set them per
 * thread (a database's compaction threads lower their own nice value and I/O priority, an audio
 * thread is real-time): each thread's own is saved (a seized thread's read by TID from the
 * leader) and set again in that thread, before its change of user (a real-time policy or a
 * lower nice value may need the restorer's privilege). */
#include <stdint.h>

#include "agent.h"

#define SCHED_ATTR_SIZE_VER0 48
#define IOPRIO_WHO_PROCESS 1 /* with a TID, or 0: the calling thread */

static struct {
  int32_t have_attr, ioprio, affinity_len, pad;
  uint32_t attr[SCHED_ATTR_SIZE_VER0 / 4]; /* struct sched_attr, its first version */
  uint64_t affinity[16];
} sched[AMBER_MAX_THREADS]; /* by index in amber_ckpt.threads; saved with memory */

/* `tid`: the thread's system TID, or 0 for the calling thread. */
void amber_sched_thread_capture(const struct amber_thread_rec *rec, int32_t tid) {
  long i = rec - amber_ckpt.threads;
  if (i < 0 || i >= AMBER_MAX_THREADS) return;
  sched[i].have_attr =
      amber_sys4(SYS_sched_getattr, tid, sched[i].attr, SCHED_ATTR_SIZE_VER0, 0) == 0;
  sched[i].ioprio = (int32_t)amber_sys2(SYS_ioprio_get, IOPRIO_WHO_PROCESS, tid);
  long n = amber_sys3(SYS_sched_getaffinity, tid, sizeof sched[i].affinity, sched[i].affinity);
  sched[i].affinity_len = n < 0 ? 0 : (int32_t)n;
}

/* The calling thread's record (found by the TID amber_thread_after_restore noted), or the
 * leader's. */
static int own_index(void) {
  int32_t tid = amber_sys_gettid();
  for (int i = 0; i < amber_ckpt.nthreads && i < AMBER_MAX_THREADS; i++)
    if (amber_ckpt.threads[i].tid == tid) return i;
  return 0;
}

void amber_sched_thread_after_restore(void) {
  int i = own_index();
  if (sched[i].have_attr) {
    uint32_t now[SCHED_ATTR_SIZE_VER0 / 4];
    /* the policy (attr[1]), its flags, nice and priority, and a deadline's times */
    if (amber_sys4(SYS_sched_getattr, 0, now, SCHED_ATTR_SIZE_VER0, 0) < 0 ||
        __builtin_memcmp(now + 1, sched[i].attr + 1, SCHED_ATTR_SIZE_VER0 - 4)) {
      sched[i].attr[0] = SCHED_ATTR_SIZE_VER0;
      long err = amber_sys3(SYS_sched_setattr, 0, sched[i].attr, 0);
      if (err < 0) amber_log("restore: cannot set the scheduling policy back (%ld)", err);
    }
  }
  if (sched[i].ioprio >= 0 && amber_sys2(SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0) != sched[i].ioprio)
    amber_sys3(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, sched[i].ioprio);
  if (sched[i].affinity_len > 0)
    amber_sys3(SYS_sched_setaffinity, 0, sched[i].affinity_len, sched[i].affinity);
}
