/* CPU clock IDs (clock_getcpuclockid, pthread_getcpuclockid, CLOCK_*_CPUTIME_ID) encode a pid
 * or a TID: ~id << 3, then a bit for a thread, then which clock (PROF, VIRT, SCHED). 0 names
 * the calling process or thread. A POSIX timer on one is made again after a restore with the
 * new pid or TID in its place. */
#ifndef AMBER_CPU_CLOCK_H
#define AMBER_CPU_CLOCK_H

#include <stdint.h>
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
/* A clock ID the program gave, as one that names the same clock after a restore: the calling
 * thread's own clock becomes that thread's (as pthread_getcpuclockid gives it). */
clockid_t amber_cpu_clock_lasting(clockid_t clock);

/* cpu_timers.c: which POSIX timers run on CPU clocks, and on which (as the program holds it),
 * for timer_settime's absolute times. */
void amber_cpu_timer_made(timer_t timer, clockid_t clock);
void amber_cpu_timer_gone(timer_t timer);
void amber_cpu_timers_forget(void); /* in a fork's child */

/* agent_cpu_time.c: the CPU time a thread reads of its clock or another thread's goes on across
 * a restore. Each thread records its clock at the freeze and takes its shift once restored; a
 * forked child forgets them. `clock` is a clock ID as the kernel knows it
 * (amber_cpu_clock_to_system). */
struct amber_thread_rec;
void amber_cpu_time_capture(const struct amber_thread_rec *rec);
void amber_cpu_time_after_restore(const struct amber_thread_rec *rec);
void amber_cpu_time_forget(void);
int64_t amber_cpu_time_shift(clockid_t clock); /* a system thread clock's, in ns; 0: none */
int64_t amber_cpu_clock_ns(clockid_t clock); /* the kernel's reading, 0 if it fails */
struct timespec amber_timespec_plus(struct timespec t, int64_t ns); /* never below 0 */
struct timespec amber_timespec_shifted(struct timespec t, int64_t ns); /* t itself if ns is 0 */

/* agent_thread_times.c: a thread's utime and stime (its task stat's, in clock ticks) go on
 * across a restore too: noted at the freeze and shifted by TID, for this process's threads. */
void amber_thread_times_capture(const struct amber_thread_rec *rec);
void amber_thread_times_after_restore(const struct amber_thread_rec *rec);
void amber_thread_times_forget(void);
int amber_thread_times_shift(int32_t tid, int64_t shift[2]); /* 0 (and 0s): not one of ours */
int amber_thread_rusage_shift(int32_t tid, int64_t shift[2]); /* the same in µs (getrusage) */

/* agent_process_cpu_time.c: the process's CPU time goes on across a restore, read by the
 * process or by another of the application. Each thread notes the process's clock (and times(),
 * getrusage()) at the freeze, the leader takes the shift once restored and publishes it in the
 * process's row of the shared tables. `clock` is a clock ID as the program holds it. */
struct tms;
struct rusage;
void amber_process_cpu_capture(void);
void amber_process_cpu_after_restore(void);
void amber_process_cpu_forget(void);
void amber_process_cpu_inherit(void); /* after an exec: the clock's shift from the row */
int64_t amber_process_cpu_shift(clockid_t clock); /* in ns; 0: none */
/* wrap_cpu_clock.c: what the program reads on `clock` (system ID `sys`) is the kernel's reading
 * plus this: the thread's shift and the process's. An absolute deadline goes the other way. */
int64_t amber_cpu_clock_shift(clockid_t clock, clockid_t sys);
void amber_process_times_read(struct tms *t);     /* tms_utime, tms_stime */
void amber_process_rusage_read(int who, struct rusage *u); /* ru_utime, ru_stime */
/* child_rows.c: a child is reaped (its row still there): its times before its restore become
 * this process's children's; wait4's rusage then gets them too (amber_process_reaped_rusage). */
void amber_process_child_reaped(int32_t child);
void amber_process_reaped_rusage(struct rusage *u);
/* The process's times() and getrusage() shifts in the shared tables, by its pid row. */
struct amber_row;
int64_t *amber_process_times_shift(struct amber_row *row);

#endif
