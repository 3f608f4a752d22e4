/* CPU clock IDs the program is given and keeps. The kernel's encode a system pid or TID, which
 * a restore changes: the program would read another process's clock, or none. The program gets
 * IDs that stay true instead: a process's clock names its virtual pid (clock_getcpuclockid takes
 * and returns virtual pids); a thread's clock names an index into this process's list of
 * threads whose clock it asked for (a thread may have no virtual TID), whose system TIDs the
 * agent renews after a restore. Every call that takes a clock ID translates it back. */
#include <errno.h>
#include <pthread.h>

#include "../agent/agent.h"
#include "cpu_clock.h"
#include "../core/symbols.h"

/* Above every pid (pid_max is at most 2^22) and every virtual pid, within the 29 bits of an ID. */
#define THREAD_CLOCK_BASE 0x8000000
#define MAX_THREAD_CLOCKS 1024

static int32_t thread_tids[MAX_THREAD_CLOCKS]; /* system TIDs; 0 free, -1 a thread gone */

/* An entry of a thread that has ended may name a new one (the kernel reuses TIDs as well). */
static int gone(int32_t tid) {
  return tid < 0 || amber_sys3(SYS_tgkill, amber_sys_getpid(), tid, 0) == -ESRCH;
}

static int thread_index(int32_t tid) {
  for (int pass = 0; pass < 2; pass++) {
    for (int k = 0; k < MAX_THREAD_CLOCKS; k++) {
      int32_t seen = __atomic_load_n(&thread_tids[k], __ATOMIC_ACQUIRE);
      if (seen == tid) return k;
      if ((seen == 0 || (pass && gone(seen))) &&
          __atomic_compare_exchange_n(&thread_tids[k], &seen, tid, 0, __ATOMIC_ACQ_REL,
                                      __ATOMIC_ACQUIRE))
        return k;
      if (seen == tid) return k; /* another thread took this one for the same TID */
    }
  }
  return -1;
}

clockid_t amber_cpu_clock_to_system(clockid_t clock) {
  if (!amber_cpu_clock(clock) || !amber_active()) return clock;
  int id = amber_cpu_clock_id(clock);
  if (id == 0) return clock;
  if (amber_cpu_clock_thread(clock) && id >= THREAD_CLOCK_BASE &&
      id < THREAD_CLOCK_BASE + MAX_THREAD_CLOCKS) {
    int32_t tid = __atomic_load_n(&thread_tids[id - THREAD_CLOCK_BASE], __ATOMIC_ACQUIRE);
    return tid > 0 ? amber_cpu_clock_with(clock, tid) : clock; /* the kernel: no such thread */
  }
  int32_t sid = amber_pid_v2s(id); /* a process's clock, or a thread's by its virtual TID */
  return sid > 0 ? amber_cpu_clock_with(clock, sid) : clock;
}

clockid_t amber_cpu_clock_lasting(clockid_t clock) {
  if (clock == CLOCK_THREAD_CPUTIME_ID)
    clock = amber_cpu_clock_with(AMBER_CPUCLOCK_THREAD | AMBER_CPUCLOCK_SCHED, 0);
  if (!amber_cpu_clock(clock) || !amber_cpu_clock_thread(clock) || amber_cpu_clock_id(clock))
    return clock;
  int k = thread_index(amber_sys_gettid());
  return k >= 0 ? amber_cpu_clock_with(clock, THREAD_CLOCK_BASE + k) : clock;
}

/* After a restore, once every thread has its new TID. */
void amber_cpu_clocks_after_restore(void) {
  for (int k = 0; k < MAX_THREAD_CLOCKS; k++) {
    int32_t tid = thread_tids[k], now = -1;
    if (tid <= 0) continue;
    for (int i = 0; i < amber_ckpt.nthreads; i++)
      if (amber_ckpt.threads[i].old_tid == tid) now = amber_ckpt.threads[i].tid;
    thread_tids[k] = now;
  }
}

AMBER_EXPORT int pthread_getcpuclockid(pthread_t thread, clockid_t *clock) {
  int err = REAL(pthread_getcpuclockid)(thread, clock);
  if (err || !amber_active()) return err;
  int tid = amber_cpu_clock_id(*clock), k = tid > 0 ? thread_index(tid) : -1;
  if (k >= 0) *clock = amber_cpu_clock_with(*clock, THREAD_CLOCK_BASE + k);
  else if (tid > 0) amber_log("more than %d threads' CPU clocks: one stays a system TID's, which a "
                              "restore would not follow", MAX_THREAD_CLOCKS);
  return 0;
}

AMBER_EXPORT int clock_getcpuclockid(pid_t pid, clockid_t *clock) {
  if (!amber_active() || pid == 0) return REAL(clock_getcpuclockid)(pid, clock);
  int32_t sid = amber_pid_v2s(pid);
  if (sid <= 0) return ESRCH;
  int err = REAL(clock_getcpuclockid)(sid, clock);
  if (!err) *clock = amber_cpu_clock_with(*clock, pid);
  return err;
}

int64_t amber_cpu_clock_shift(clockid_t clock, clockid_t sys) {
  return amber_cpu_time_shift(sys) + amber_process_cpu_shift(clock);
}

AMBER_EXPORT int clock_gettime(clockid_t clock, struct timespec *ts) {
  if (!amber_cpu_clock(clock) && clock != CLOCK_THREAD_CPUTIME_ID &&
      clock != CLOCK_PROCESS_CPUTIME_ID)
    return REAL(clock_gettime)(clock, ts);
  /* A thread's CPU time goes on across a restore: no restore between reading it and shifting it
   * (agent_cpu_time.c), nor between finding a thread's TID and reading its clock. */
  amber_enter();
  clockid_t sys = amber_cpu_clock_to_system(clock);
  int r = REAL(clock_gettime)(sys, ts);
  if (r == 0) *ts = amber_timespec_shifted(*ts, amber_cpu_clock_shift(clock, sys));
  amber_leave();
  return r;
}

AMBER_EXPORT int clock_getres(clockid_t clock, struct timespec *res) {
  return REAL(clock_getres)(amber_cpu_clock_to_system(clock), res);
}
