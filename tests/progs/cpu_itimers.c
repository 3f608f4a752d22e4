/* Interval timers on CPU time (setitimer ITIMER_PROF and ITIMER_VIRTUAL) come back exactly: the
 * process arms both, burns CPU for a while (neither fires yet) and reads what is left. After the
 * restore each has the same interval and at most what was left (the kernel adds a tick to a value
 * set on them: a restore that set back what getitimer read would add one every time), and not
 * much less; then, as the process burns CPU, each fires once its time is used up and goes on
 * firing at its interval. */
#include <signal.h>
#include <stdatomic.h>
#include <sys/time.h>
#include <time.h>

#include "check.h"
#include "wait_go.h"

#define MS 1000LL /* in µs */

static atomic_int fired[3];
static atomic_llong first_at[3]; /* the process's CPU time at the first expiry, µs */

static long long cpu_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static void on_timer(int sig) {
  int which = sig == SIGPROF ? ITIMER_PROF : ITIMER_VIRTUAL;
  if (fired[which]++ == 0) first_at[which] = cpu_us();
}

static long long us(struct timeval tv) { return tv.tv_sec * 1000000LL + tv.tv_usec; }

/* In user mode mostly (VIRTUAL counts user time only): a read of the clock is a system call. */
static void burn_until(long long until) {
  while (cpu_us() < until)
    for (volatile int i = 0; i < 20000; i++) {}
}

static const struct itimerval armed[3] = {
    [ITIMER_VIRTUAL] = {{0, 30 * MS}, {0, 450 * MS}},
    [ITIMER_PROF] = {{0, 20 * MS}, {0, 400 * MS}},
};

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: cpu_itimers DIR");
  signal(SIGPROF, on_timer);
  signal(SIGVTALRM, on_timer);
  for (int w = 1; w < 3; w++) CHECK(setitimer(w, &armed[w], NULL) == 0, "setitimer %d", w);
  burn_until(cpu_us() + 100 * MS);
  CHECK(!fired[ITIMER_PROF] && !fired[ITIMER_VIRTUAL], "a timer fired before the snapshot");
  struct itimerval before[3];
  for (int w = 1; w < 3; w++) getitimer(w, &before[w]);
  say_ready();
  wait_go(argv[1]);

  struct itimerval after[3];
  for (int w = 1; w < 3; w++) CHECK(getitimer(w, &after[w]) == 0, "getitimer %d", w);
  long long start = cpu_us();
  for (int w = 1; w < 3; w++) {
    CHECK(us(after[w].it_interval) == us(armed[w].it_interval),
          "timer %d: interval %lld us, not %lld", w, us(after[w].it_interval),
          us(armed[w].it_interval));
    long long was = us(before[w].it_value), left = us(after[w].it_value);
    CHECK(left <= was, "timer %d: %lld us left, more than the %lld left before the snapshot", w,
          left, was);
    CHECK(left >= was - 60 * MS, "timer %d: %lld us left, %lld before the snapshot", w, left, was);
  }
  CHECK(!fired[ITIMER_PROF] && !fired[ITIMER_VIRTUAL], "a timer fired across the restore");
  /* Each fires once its time left is used. The kernel counts it in user and system time
   * sampled at each tick, which the process's CPU clock (its exact run time) only roughly
   * follows: the bounds are wide, getitimer above holds the exact time. */
  long long prof = us(after[ITIMER_PROF].it_value), virt = us(after[ITIMER_VIRTUAL].it_value);
  burn_until(start + virt * 3 / 2 + 60 * MS);
  CHECK(fired[ITIMER_PROF] && fired[ITIMER_VIRTUAL], "fired: PROF %d, VIRTUAL %d times",
        fired[ITIMER_PROF], fired[ITIMER_VIRTUAL]);
  long long prof_at = first_at[ITIMER_PROF] - start, virt_at = first_at[ITIMER_VIRTUAL] - start;
  CHECK(prof_at >= prof / 2 && prof_at <= prof * 3 / 2 + 30 * MS,
        "PROF fired after %lld us of CPU time, with %lld left", prof_at, prof);
  CHECK(virt_at >= virt / 2 && virt_at <= virt * 3 / 2 + 60 * MS,
        "VIRTUAL fired after %lld us of CPU time, with %lld left", virt_at, virt);
  int p = fired[ITIMER_PROF], v = fired[ITIMER_VIRTUAL];
  burn_until(cpu_us() + 300 * MS); /* 15 PROF intervals, 10 VIRTUAL ones */
  p = fired[ITIMER_PROF] - p, v = fired[ITIMER_VIRTUAL] - v;
  CHECK(p >= 8 && p <= 22, "PROF fired %d times in 300 ms of CPU time, every 20 ms", p);
  CHECK(v >= 5 && v <= 15, "VIRTUAL fired %d times in 300 ms of CPU time, every 30 ms", v);
  printf("PASS\n");
  return 0;
}
