/* CPU clock IDs the program keeps name the same threads and processes after a restore: a
 * spinning thread's (pthread_getcpuclockid), a sleeping thread's, the main thread's, this
 * process's and a spinning child's (clock_getcpuclockid, by the pids getpid and fork gave). Each
 * is read with clock_gettime and clock_getres, the child's is slept on with clock_nanosleep, and
 * a timer is made on the spinning thread's; the busy clocks move, the sleeping one hardly. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>

#include "check.h"
#include "wait_go.h"

enum { SPINNER, SLEEPER, MAIN, PROCESS, CHILD, NCLOCKS };
static const char *names[NCLOCKS] = {"spinning thread", "sleeping thread", "main thread",
                                     "process", "child"};
static clockid_t clocks[NCLOCKS];
static atomic_int fired;

static void spin_ms(long ms) {
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  do clock_gettime(CLOCK_MONOTONIC, &now);
  while ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 < ms);
}

static void *spinner(void *arg) {
  for (;;) spin_ms(10);
  return arg;
}

static void *sleeper(void *arg) {
  for (;;) sleep(1);
  return arg;
}

static long read_ms(int which) {
  struct timespec ts;
  CHECK(clock_gettime(clocks[which], &ts) == 0, "clock_gettime on the %s's clock", names[which]);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_timer(int sig) { fired++; }

/* Over 300 ms of wall time, in which the main thread spins 100 ms: which clocks moved. */
static void check_clocks(void) {
  long before[NCLOCKS], moved[NCLOCKS];
  for (int i = 0; i < NCLOCKS; i++) {
    struct timespec res;
    CHECK(clock_getres(clocks[i], &res) == 0, "clock_getres on the %s's clock", names[i]);
    before[i] = read_ms(i);
  }
  spin_ms(100);
  struct timespec wait = {0, 200 * 1000000};
  nanosleep(&wait, NULL);
  for (int i = 0; i < NCLOCKS; i++) moved[i] = read_ms(i) - before[i];
  for (int i = 0; i < NCLOCKS; i++) printf("%s moved %ld ms\n", names[i], moved[i]);
  fflush(stdout);
  CHECK(moved[SPINNER] >= 20, "the spinning thread's clock moved %ld ms", moved[SPINNER]);
  CHECK(moved[CHILD] >= 20, "the child's clock moved %ld ms", moved[CHILD]);
  CHECK(moved[MAIN] >= 20, "the main thread's clock moved %ld ms", moved[MAIN]);
  CHECK(moved[PROCESS] >= moved[SPINNER] + moved[MAIN] - 5, "the process's clock moved %ld ms",
        moved[PROCESS]);
  CHECK(moved[SLEEPER] <= 5, "the sleeping thread's clock moved %ld ms", moved[SLEEPER]);
  struct timespec child_ms = {0, 10 * 1000000};
  CHECK(clock_nanosleep(clocks[CHILD], 0, &child_ms, NULL) == 0, "clock_nanosleep on the child's");
  signal(SIGUSR1, on_timer);
  struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1};
  timer_t timer;
  CHECK(timer_create(clocks[SPINNER], &ev, &timer) == 0, "timer_create on the spinner's clock");
  struct itimerspec once = {{0, 0}, {0, 20 * 1000000}};
  CHECK(timer_settime(timer, 0, &once, NULL) == 0, "timer_settime");
  for (int i = 0; i < 100 && !fired; i++) nanosleep(&child_ms, NULL);
  CHECK(fired == 1, "the timer on the spinner's clock fired %d times", (int)fired);
  timer_delete(timer);
  fired = 0;
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: cpu_clock_ids DIR");
  pid_t child = fork();
  CHECK(child >= 0, "fork");
  if (child == 0) spinner(NULL);
  pthread_t threads[2];
  CHECK(pthread_create(&threads[0], NULL, spinner, NULL) == 0, "pthread_create");
  CHECK(pthread_create(&threads[1], NULL, sleeper, NULL) == 0, "pthread_create");
  CHECK(pthread_getcpuclockid(threads[0], &clocks[SPINNER]) == 0, "the spinner's clock");
  CHECK(pthread_getcpuclockid(threads[1], &clocks[SLEEPER]) == 0, "the sleeper's clock");
  CHECK(pthread_getcpuclockid(pthread_self(), &clocks[MAIN]) == 0, "the main thread's clock");
  CHECK(clock_getcpuclockid(getpid(), &clocks[PROCESS]) == 0, "the process's clock");
  CHECK(clock_getcpuclockid(child, &clocks[CHILD]) == 0, "the child's clock");
  check_clocks();
  say_ready();
  wait_go(argv[1]);
  check_clocks();
  kill(child, SIGKILL);
  waitpid(child, NULL, 0);
  printf("PASS\n");
  return 0;
}
