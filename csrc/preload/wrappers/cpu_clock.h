/* CPU clock IDs (clock_getcpuclockid, pthread_getcpuclockid, CLOCK_*_CPUTIME_ID) encode a pid
 * or a TID: ~id << 3, then a bit for a thread, then which clock (PROF, VIRT, SCHED). 0 names
 * the calling process or thread. A POSIX timer on one is made again after a restore with the
 * new pid or TID in its place. */
#ifndef AMBER_CPU_CLOCK_H
#define AMBER_CPU_CLOCK_H

#include <time.h>

#define AMBER_CPUCLOCK_THREAD 4
#define AMBER_CPUCLOCK_SCHED 2

static inline int amber_cpu_clock(clockid_t clock) { return clock < 0; }
static inline int amber_cpu_clock_thread(clockid_t clock) {
  return (clock & AMBER_CPUCLOCK_THREAD) != 0;
}
static inline int amber_cpu_clock_id(clockid_t clock) { return ~(clock >> 3); }
static inline clockid_t amber_cpu_clock_with(clockid_t clock, int id) {
  return (clockid_t)(((clockid_t)~id << 3) | (clock & 7));
}

/* wrap_cpu_clock.c: a clock ID the program holds, as the kernel knows it now; and, after a
 * restore, the threads' clocks moved to their new TIDs */
clockid_t amber_cpu_clock_to_system(clockid_t clock);
void amber_cpu_clocks_after_restore(void);

/* agent_cpu_time.c: the CPU time a thread reads of its clock or another thread's goes on across
 * a restore. Each thread records its clock at the freeze and takes its shift once restored; a
 * forked child forgets them. `clock` is a clock ID as the kernel knows it
 * (amber_cpu_clock_to_system). */
struct amber_thread_rec;
void amber_cpu_time_capture(const struct amber_thread_rec *rec);
void amber_cpu_time_after_restore(const struct amber_thread_rec *rec);
void amber_cpu_time_forget(void);
void amber_cpu_time_read(clockid_t clock, struct timespec *ts); /* what clock_gettime gave */
/* An absolute deadline on the clock as the program reads it, as the kernel counts it. */
struct timespec amber_cpu_time_deadline(clockid_t clock, struct timespec deadline);

#endif
