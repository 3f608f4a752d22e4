/* POSIX timers on CPU clocks: one on a thread's own clock (CLOCK_THREAD_CPUTIME_ID, made by
 * that thread), one on another thread's (pthread_getcpuclockid), one on the process's
 * (CLOCK_PROCESS_CPUTIME_ID). Each fires every 5 ms of its clock's CPU time. After the
 * restore each goes on firing, and a thread's timer only as that thread runs: while thread A
 * sleeps and B spins, A's timer is silent. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>

#include "check.h"
#include "wait_go.h"

enum { OWN, OTHER, PROCESS, NTIMERS };
static atomic_int fired[NTIMERS];
static atomic_int spin[2] = {1, 1};
static timer_t timers[NTIMERS];
static atomic_int own_made;

static void on_timer(int sig, siginfo_t *info, void *uc) { fired[info->si_value.sival_int]++; }

static void make_timer(clockid_t clock, int which) {
  struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGRTMIN};
  ev.sigev_value.sival_int = which;
  CHECK(timer_create(clock, &ev, &timers[which]) == 0, "timer_create %d", which);
  struct itimerspec every = {{0, 5000000}, {0, 5000000}};
  CHECK(timer_settime(timers[which], 0, &every, NULL) == 0, "timer_settime %d", which);
}

static void *spinner(void *arg) {
  int k = (int)(long)arg;
  if (k == 0) {
    make_timer(CLOCK_THREAD_CPUTIME_ID, OWN);
    own_made = 1;
  }
  for (;;) {
    if (spin[k]) {
      for (volatile int i = 0; i < 100000; i++) {}
    } else {
      usleep(1000);
    }
  }
  return arg;
}

static void pause_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
  while (nanosleep(&ts, &ts) != 0) {}
}

/* Waits (3 s at most) until timer `which` has fired `more` times more than `from`. */
static void wait_fired(int which, int from, int more) {
  for (int i = 0; i < 300 && fired[which] < from + more; i++) pause_ms(10);
  CHECK(fired[which] >= from + more, "timer %d fired %d times, not %d", which, fired[which] - from,
        more);
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: cpu_clock_timers DIR");
  struct sigaction sa = {.sa_sigaction = on_timer, .sa_flags = SA_SIGINFO | SA_RESTART};
  sigaction(SIGRTMIN, &sa, NULL);
  pthread_t a, b;
  CHECK(pthread_create(&a, NULL, spinner, (void *)0L) == 0, "pthread_create");
  CHECK(pthread_create(&b, NULL, spinner, (void *)1L) == 0, "pthread_create");
  while (!own_made) pause_ms(1);
  clockid_t b_clock;
  CHECK(pthread_getcpuclockid(b, &b_clock) == 0, "pthread_getcpuclockid");
  make_timer(b_clock, OTHER);
  make_timer(CLOCK_PROCESS_CPUTIME_ID, PROCESS);
  for (int t = 0; t < NTIMERS; t++) wait_fired(t, 0, 3);
  say_ready();
  wait_go(argv[1]);
  for (int t = 0; t < NTIMERS; t++) wait_fired(t, fired[t], 3);
  spin[0] = 0; /* A sleeps: its own clock stands still */
  pause_ms(20);
  int own = fired[OWN], other = fired[OTHER];
  pause_ms(200);
  CHECK(fired[OWN] <= own + 1, "A's timer fired %d times while A slept", fired[OWN] - own);
  CHECK(fired[OTHER] >= other + 3, "B's timer fired %d times while B spun", fired[OTHER] - other);
  spin[0] = 1;
  wait_fired(OWN, fired[OWN], 3);
  for (int t = 0; t < NTIMERS; t++) {
    struct itimerspec left;
    CHECK(timer_gettime(timers[t], &left) == 0, "timer_gettime %d", t);
  }
  printf("PASS\n");
  return 0;
}
