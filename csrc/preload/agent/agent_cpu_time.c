/* A thread's CPU time goes on across a restore. The kernel starts a restored thread's CPU clock
 * again from zero and lets no one set it: each thread keeps a shift, its clock's value at the
 * freeze less its value once restored, which the library adds to what the program reads of it
 * (wrap_cpu_clock.c), so that the time read goes on from where it was. The calling thread's own
 * shift is in thread-local storage (a new thread's is 0, as its clock); another thread's is found
 * by its TID (a TID the kernel gives again to a new thread of the process, after the restored
 * one ended, would read with the old one's shift through another thread's clock ID). A forked
 * child's clocks start from zero in the kernel, and so do its shifts.
 *
 * The process's CPU clock goes on the same way, with one shift for the process
 * (agent_process_cpu_time.c). */
#include <time.h>

#include "agent.h"
#include "../wrappers/cpu_clock.h"

#define NS 1000000000LL

static int64_t at_freeze[AMBER_MAX_THREADS]; /* by thread record: the clock as the program read it */
static struct {
  int32_t tid;
  int64_t shift;
} shifts[AMBER_MAX_THREADS]; /* by thread record, after a restore */
static __thread int64_t self_shift;
static int shifted; /* any shift at all: a read before any restore costs nothing more */

int64_t amber_cpu_clock_ns(clockid_t clock) {
  struct timespec ts;
  return amber_sys2(SYS_clock_gettime, clock, &ts) ? 0 : ts.tv_sec * NS + ts.tv_nsec;
}

void amber_cpu_time_capture(const struct amber_thread_rec *rec) {
  at_freeze[rec - amber_ckpt.threads] = amber_cpu_clock_ns(CLOCK_THREAD_CPUTIME_ID) + self_shift;
  amber_thread_times_capture(rec);
  amber_process_cpu_capture();
}

/* In each restored thread, once it has its new TID (rec->tid). */
void amber_cpu_time_after_restore(const struct amber_thread_rec *rec) {
  long i = rec - amber_ckpt.threads;
  self_shift = at_freeze[i] - amber_cpu_clock_ns(CLOCK_THREAD_CPUTIME_ID);
  shifts[i].shift = self_shift;
  __atomic_store_n(&shifts[i].tid, rec->tid, __ATOMIC_RELEASE);
  amber_thread_times_after_restore(rec);
  if (!rec->leader) return;
  for (int k = amber_ckpt.nthreads; k < AMBER_MAX_THREADS; k++) shifts[k].tid = 0;
  shifted = 1;
  amber_process_cpu_after_restore();
}

void amber_cpu_time_forget(void) {
  self_shift = 0;
  for (int k = 0; k < AMBER_MAX_THREADS; k++) shifts[k].tid = 0;
  shifted = 0;
  amber_thread_times_forget();
  amber_process_cpu_forget();
}

/* The shift of `clock`, a clock ID as the kernel knows it: a thread's CPU clock's, else 0. Only
 * SCHED clocks (CLOCK_THREAD_CPUTIME_ID, pthread_getcpuclockid's) are shifted: the PROF and VIRT
 * ones count user and system time apart, which the freeze did not read. */
int64_t amber_cpu_time_shift(clockid_t clock) {
  if (!shifted) return 0;
  if (clock == CLOCK_THREAD_CPUTIME_ID) return self_shift;
  if (!amber_cpu_clock(clock) || !amber_cpu_clock_thread(clock) ||
      (clock & 3) != AMBER_CPUCLOCK_SCHED)
    return 0;
  int id = amber_cpu_clock_id(clock);
  if (id == 0) return self_shift;
  for (int k = 0; k < AMBER_MAX_THREADS; k++)
    if (__atomic_load_n(&shifts[k].tid, __ATOMIC_ACQUIRE) == id) return shifts[k].shift;
  return 0;
}

struct timespec amber_timespec_plus(struct timespec t, int64_t ns) {
  int64_t total = t.tv_sec * NS + t.tv_nsec + ns;
  if (total < 0) total = 0;
  return (struct timespec){total / NS, total % NS};
}

struct timespec amber_timespec_shifted(struct timespec t, int64_t ns) {
  return ns ? amber_timespec_plus(t, ns) : t;
}
