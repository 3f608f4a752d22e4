/* The process's CPU time as clock(), times() and getrusage() read it goes on across a restore
 * (agent_process_cpu_time.c), its reaped children's and each thread's too. glibc's clock() reads the clock inside libc, past
 * clock_gettime's wrapper, so it is read here through that wrapper. */
#include <sys/resource.h>
#include <sys/times.h>

#include "../core/amber.h"
#include "cpu_clock.h"

AMBER_EXPORT clock_t clock(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)) return (clock_t)-1;
  return ts.tv_sec * CLOCKS_PER_SEC + ts.tv_nsec / (1000000000 / CLOCKS_PER_SEC);
}

/* No restore between the kernel's reading and its shift. */
AMBER_EXPORT clock_t times(struct tms *t) {
  amber_enter();
  clock_t r = REAL(times)(t);
  if (t && amber_active()) amber_process_times_read(t);
  amber_leave();
  return r;
}

AMBER_EXPORT int getrusage(__rusage_who_t who, struct rusage *u) {
  amber_enter();
  int r = REAL(getrusage)(who, u);
  if (r == 0 && amber_active()) amber_process_rusage_read(who, u);
  amber_leave();
  return r;
}
