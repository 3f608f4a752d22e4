/* POSIX timers (timer_create) keep their IDs and go on firing after the restore: one that
 * signals the process (with its signal value), one that signals a thread of the program
 * (SIGEV_THREAD_ID), and one that only counts time (SIGEV_NONE). With "sigev-thread", the
 * thread timer is a SIGEV_THREAD one instead, whose function must go on being called (glibc's
 * helper thread would block every signal; Amber's library runs these timers itself). */
#include <pthread.h>
#include <sys/syscall.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "wait_go.h"

static volatile int alarms, alarm_value, callbacks;

static void on_alarm(int sig, siginfo_t *info, void *uc) {
  alarms++;
  alarm_value = info->si_value.sival_int;
}

static void on_expiry(union sigval value) {
  if (value.sival_int == 77) callbacks++;
}

static pid_t worker_tid;

/* Counted only in the thread the timer is aimed at, so a timer that comes back aimed at the
 * whole process (any thread) is caught. */
static volatile int astray; /* expiries of the thread timer that reached another thread */
static void on_thread_alarm(int sig) {
  if ((pid_t)syscall(SYS_gettid) == worker_tid) callbacks++;
  else astray++;
}

static void *worker(void *arg) {
  worker_tid = (pid_t)syscall(SYS_gettid);
  for (;;) pause();
  return arg;
}

int main(int argc, char **argv) {
  CHECK(argc == 2 || argc == 3, "usage: posix_timer DIR [sigev-thread]");
  struct sigaction sa = {.sa_sigaction = on_alarm, .sa_flags = SA_SIGINFO | SA_RESTART};
  sigaction(SIGALRM, &sa, NULL);
  timer_t by_signal, by_thread, silent;
  struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGALRM};
  ev.sigev_value.sival_int = 42;
  CHECK(timer_create(CLOCK_MONOTONIC, &ev, &by_signal) == 0, "timer_create signal");
  pthread_t t;
  pthread_create(&t, NULL, worker, NULL);
  while (!worker_tid) usleep(1000);
  signal(SIGUSR1, on_thread_alarm);
  struct sigevent tev = {.sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGUSR1};
  tev._sigev_un._tid = worker_tid;
  if (argc == 3) {
    tev = (struct sigevent){.sigev_notify = SIGEV_THREAD, .sigev_notify_function = on_expiry};
    tev.sigev_value.sival_int = 77;
  }
  CHECK(timer_create(CLOCK_MONOTONIC, &tev, &by_thread) == 0, "timer_create thread");
  struct sigevent nev = {.sigev_notify = SIGEV_NONE};
  CHECK(timer_create(CLOCK_MONOTONIC, &nev, &silent) == 0, "timer_create none");
  struct itimerspec every = {{0, 20000000}, {0, 20000000}}, later = {{0, 0}, {3600, 0}};
  timer_settime(by_signal, 0, &every, NULL);
  timer_settime(by_thread, 0, &every, NULL);
  timer_settime(silent, 0, &later, NULL);
  while (alarms < 3 || callbacks < 3) usleep(1000);
  say_ready();
  wait_go(argv[1]);
  int a = alarms, c = callbacks;
  for (int i = 0; i < 100 && (alarms < a + 3 || callbacks < c + 3); i++) usleep(10000);
  CHECK(alarms >= a + 3, "the signalling timer stopped (%d)", alarms - a);
  CHECK(alarm_value == 42, "its signal value is %d", alarm_value);
  CHECK(callbacks >= c + 3, "the thread timer stopped (%d)", callbacks - c);
  CHECK(!astray, "%d expiries of the thread timer reached another thread", astray);
  struct itimerspec left;
  CHECK(timer_gettime(silent, &left) == 0, "the silent timer's ID is gone");
  CHECK(left.it_value.tv_sec > 3000, "the silent timer has %ld s left", (long)left.it_value.tv_sec);
  printf("PASS\n");
  return 0;
}
