/* POSIX timers on CPU clocks, armed at an absolute time (timer_settime with TIMER_ABSTIME). The
 * program gives the time on its clock as it reads it, which goes on from its value at the
 * snapshot (agent_cpu_time.c, agent_process_cpu_time.c); the kernel's restored clock started
 * from zero, so the time is translated as clock_nanosleep's deadline is. The kernel does not
 * say which clock a timer runs on, so timer_create notes each CPU clock timer's clock here, as
 * the program holds it (a thread's own clock as that thread's, wrap_cpu_clock.c), so that it
 * still names the same thread or process after a restore. What is left of a timer
 * (timer_gettime, old values) is relative and needs nothing. */
#include <errno.h>
#include <time.h>

#include "../core/amber.h"
#include "cpu_clock.h"

#define MAX_CPU_TIMERS 256

static struct {
  int32_t id; /* the timer's ID + 1; 0 free */
  clockid_t clock;
} timers[MAX_CPU_TIMERS];

static int32_t key(timer_t timer) { return (int32_t)(intptr_t)timer + 1; }

static int is_cpu_clock(clockid_t clock) {
  return amber_cpu_clock(clock) || clock == CLOCK_PROCESS_CPUTIME_ID ||
         clock == CLOCK_THREAD_CPUTIME_ID;
}

void amber_cpu_timer_made(timer_t timer, clockid_t clock) {
  if (!is_cpu_clock(clock)) return;
  clock = amber_cpu_clock_lasting(clock);
  for (int i = 0; i < MAX_CPU_TIMERS; i++) {
    int32_t seen = __atomic_load_n(&timers[i].id, __ATOMIC_ACQUIRE);
    if (seen == key(timer) ||
        (!seen && __atomic_compare_exchange_n(&timers[i].id, &seen, key(timer), 0,
                                              __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))) {
      timers[i].clock = clock; /* no one looks for this timer before timer_create returns */
      return;
    }
  }
  amber_log("more than %d timers on CPU clocks: an absolute time on one is not translated after "
            "a restore", MAX_CPU_TIMERS);
}

void amber_cpu_timer_gone(timer_t timer) {
  for (int i = 0; i < MAX_CPU_TIMERS; i++)
    if (__atomic_load_n(&timers[i].id, __ATOMIC_ACQUIRE) == key(timer))
      __atomic_store_n(&timers[i].id, 0, __ATOMIC_RELEASE);
}

/* A fork's child has none of its parent's timers. */
void amber_cpu_timers_forget(void) {
  for (int i = 0; i < MAX_CPU_TIMERS; i++) timers[i].id = 0;
}

static int clock_of(timer_t timer, clockid_t *clock) {
  for (int i = 0; i < MAX_CPU_TIMERS; i++)
    if (__atomic_load_n(&timers[i].id, __ATOMIC_ACQUIRE) == key(timer)) {
      *clock = timers[i].clock;
      return 1;
    }
  return 0;
}

AMBER_EXPORT int timer_settime(timer_t timer, int flags, const struct itimerspec *value,
                               struct itimerspec *old) {
  clockid_t clock;
  if (!(flags & TIMER_ABSTIME) || !value || !amber_active() || !clock_of(timer, &clock))
    return REAL(timer_settime)(timer, flags, value, old);
  /* No restore between the translation and the call. */
  amber_enter();
  struct itimerspec v = *value;
  if (v.it_value.tv_sec || v.it_value.tv_nsec) {
    clockid_t sys = amber_cpu_clock_to_system(clock);
    v.it_value = amber_timespec_shifted(v.it_value, -amber_cpu_clock_shift(clock, sys));
    if (!v.it_value.tv_sec && !v.it_value.tv_nsec) v.it_value.tv_nsec = 1; /* past: fires now */
  }
  int r = REAL(timer_settime)(timer, flags, &v, old);
  amber_leave();
  return r;
}
