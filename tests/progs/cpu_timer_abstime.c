/* POSIX timers on CPU clocks armed at an absolute time (TIMER_ABSTIME) after a restore: the time
 * is on the clock as the program reads it, which went on from its value at the snapshot. Two
 * threads spin; timers run on thread A's own clock (made by A with CLOCK_THREAD_CPUTIME_ID), on
 * B's (pthread_getcpuclockid) and on the process's. Before the snapshot each clock has run a
 * while, and a timer on the process's clock is armed at an absolute time far ahead. After the
 * restore that one has what it had left, less what ran since; each timer is armed at its clock's
 * time + 30 ms: timer_gettime says about 30 ms are left, and it fires at that time on its clock,
 * not once the kernel's restored clock (which started from zero) got there; a time already past
 * fires at once. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>

#include "check.h"
#include "wait_go.h"

#define MS 1000000LL
enum { OWN, OTHER, PROCESS, FAR, NTIMERS };
static timer_t timers[NTIMERS];
static clockid_t clocks[NTIMERS];
static atomic_int fired[NTIMERS];
static atomic_llong fired_at[NTIMERS];
static atomic_int own_made;

static long long ns(clockid_t clock) {
  struct timespec ts;
  CHECK(clock_gettime(clock, &ts) == 0, "clock_gettime %d", (int)clock);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static struct timespec at(long long t) {
  return (struct timespec){t / 1000000000LL, t % 1000000000LL};
}

static void on_timer(int sig, siginfo_t *info, void *uc) {
  int k = info->si_value.sival_int;
  fired_at[k] = ns(clocks[k]);
  fired[k]++;
}

static void make_timer(clockid_t clock, int which) {
  struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGRTMIN};
  ev.sigev_value.sival_int = which;
  CHECK(timer_create(clock, &ev, &timers[which]) == 0, "timer_create %d", which);
}

static void *spinner(void *arg) {
  if (arg) {
    make_timer(CLOCK_THREAD_CPUTIME_ID, OWN);
    own_made = 1;
  }
  for (;;)
    for (volatile int i = 0; i < 100000; i++) {}
  return arg;
}

static void pause_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
  while (nanosleep(&ts, &ts) != 0) {}
}

static long long left(int k) {
  struct itimerspec its;
  CHECK(timer_gettime(timers[k], &its) == 0, "timer_gettime %d", k);
  return its.it_value.tv_sec * 1000000000LL + its.it_value.tv_nsec;
}

/* Arms timer k at `deadline` on its clock; waits (3 s at most) until it fires. */
static void fires_at(int k, long long deadline, const char *what) {
  int before = fired[k];
  struct itimerspec its = {{0, 0}, at(deadline)};
  CHECK(timer_settime(timers[k], TIMER_ABSTIME, &its, NULL) == 0, "timer_settime %s", what);
  long long now = ns(clocks[k]);
  if (deadline > now) {
    long long l = left(k);
    CHECK(l > 0 && l <= deadline - now + 5 * MS, "%s: %lld ms left for a time %lld ms ahead", what,
          l / MS, (deadline - now) / MS);
  }
  for (int i = 0; i < 300 && fired[k] == before; i++) pause_ms(10);
  CHECK(fired[k] > before, "%s: the timer did not fire", what);
  long long on_time = deadline > now ? deadline : now;
  CHECK(fired_at[k] >= deadline, "%s: fired at %lld, before its time %lld", what,
        (long long)fired_at[k], deadline);
  CHECK(fired_at[k] < on_time + 100 * MS, "%s: fired %lld ms late", what,
        (fired_at[k] - on_time) / MS);
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: cpu_timer_abstime DIR");
  struct sigaction sa = {.sa_sigaction = on_timer, .sa_flags = SA_SIGINFO | SA_RESTART};
  sigaction(SIGRTMIN, &sa, NULL);
  pthread_t a, b;
  CHECK(pthread_create(&a, NULL, spinner, (void *)1L) == 0, "pthread_create");
  CHECK(pthread_create(&b, NULL, spinner, NULL) == 0, "pthread_create");
  while (!own_made) pause_ms(1);
  CHECK(pthread_getcpuclockid(a, &clocks[OWN]) == 0, "pthread_getcpuclockid");
  CHECK(pthread_getcpuclockid(b, &clocks[OTHER]) == 0, "pthread_getcpuclockid");
  clocks[PROCESS] = clocks[FAR] = CLOCK_PROCESS_CPUTIME_ID;
  make_timer(clocks[OTHER], OTHER);
  make_timer(CLOCK_PROCESS_CPUTIME_ID, PROCESS);
  make_timer(CLOCK_PROCESS_CPUTIME_ID, FAR);
  while (ns(clocks[OWN]) < 200 * MS || ns(clocks[OTHER]) < 200 * MS) pause_ms(10);
  struct itimerspec far = {{0, 0}, at(ns(CLOCK_PROCESS_CPUTIME_ID) + 3600 * 1000 * MS)};
  CHECK(timer_settime(timers[FAR], TIMER_ABSTIME, &far, NULL) == 0, "timer_settime far");
  long long far_left = left(FAR);
  say_ready();
  wait_go(argv[1]);

  long long far_now = left(FAR);
  CHECK(far_now <= far_left && far_now > far_left - 2000 * MS,
        "a timer armed before the snapshot has %lld ms left, %lld before", far_now / MS,
        far_left / MS);
  static const char *names[] = {"A's own clock", "B's clock", "the process's clock"};
  for (int k = OWN; k <= PROCESS; k++) fires_at(k, ns(clocks[k]) + 30 * MS, names[k]);
  for (int k = OWN; k <= PROCESS; k++) fires_at(k, ns(clocks[k]) - 10 * MS, names[k]);
  printf("PASS\n");
  return 0;
}
