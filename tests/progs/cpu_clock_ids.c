/* CPU clock IDs the program keeps name the same threads and processes after a restore: a
 * spinning thread's (pthread_getcpuclockid), a sleeping thread's, the main thread's, this
 * process's and a spinning child's (clock_getcpuclockid, by the pids getpid and fork gave). Each
 * is read with clock_gettime, clock_getres and syscall(SYS_clock_gettime), and must read between two readings its owner
 * made of its own clock; the sleeping thread's must not run; the child's is slept on with
 * clock_nanosleep, and a timer is made on the spinning thread's. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "check.h"
#include "wait_go.h"

enum { SPINNER, SLEEPER, MAIN, PROCESS, CHILD, NCLOCKS };
static const char *names[NCLOCKS] = {"spinning thread", "sleeping thread", "main thread",
                                     "process", "child"};
static clockid_t clocks[NCLOCKS];
static atomic_int fired;
/* What the spinning thread and the child read of their own clocks, again and again. */
static struct published {
  atomic_llong spinner, child;
} *own;

static long long ns(clockid_t clock, const char *what) {
  struct timespec ts;
  CHECK(clock_gettime(clock, &ts) == 0, "clock_gettime on the %s's clock", what);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void spin(atomic_llong *out, clockid_t self) {
  for (;;) *out = ns(self, "own");
}

static void *spinner(void *arg) {
  spin(&own->spinner, CLOCK_THREAD_CPUTIME_ID);
  return arg;
}

static void *sleeper(void *arg) {
  for (;;) sleep(1);
  return arg;
}

static void on_timer(int sig) { fired++; }

/* The kept clock reads between two readings its owner made of its own clock, one before and
 * one surely after (the owner published twice more since). */
static void bracket(int which, atomic_llong *published) {
  long long before = *published, kept = ns(clocks[which], names[which]);
  for (int changes = 0; changes < 2;) {
    long long seen = *published;
    while (*published == seen) {}
    changes++;
  }
  long long after = *published;
  CHECK(before <= kept && kept <= after, "the %s's kept clock reads %lld, its own %lld..%lld",
        names[which], kept, before, after);
}

/* The same, with the caller's own clock. */
static void bracket_self(int which, clockid_t self) {
  long long before = ns(self, "own"), kept = ns(clocks[which], names[which]), after = ns(self, "own");
  CHECK(before <= kept && kept <= after, "the %s's kept clock reads %lld, its own %lld..%lld",
        names[which], kept, before, after);
}

static void check_clocks(void) {
  for (int i = 0; i < NCLOCKS; i++) {
    struct timespec res, now;
    CHECK(clock_getres(clocks[i], &res) == 0, "clock_getres on the %s's clock", names[i]);
    CHECK(syscall(SYS_clock_gettime, clocks[i], &now) == 0,
          "syscall(SYS_clock_gettime) on the %s's clock", names[i]);
  }
  bracket(SPINNER, &own->spinner);
  bracket(CHILD, &own->child);
  bracket_self(MAIN, CLOCK_THREAD_CPUTIME_ID);
  bracket_self(PROCESS, CLOCK_PROCESS_CPUTIME_ID);
  long long sleeper = ns(clocks[SLEEPER], names[SLEEPER]);
  struct timespec ms10 = {0, 10 * 1000000};
  CHECK(clock_nanosleep(clocks[CHILD], 0, &ms10, NULL) == 0, "clock_nanosleep on the child's");
  CHECK(ns(clocks[SLEEPER], names[SLEEPER]) - sleeper < 2000000, "the sleeping thread's clock ran");
  signal(SIGUSR1, on_timer);
  struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1};
  timer_t timer;
  CHECK(timer_create(clocks[SPINNER], &ev, &timer) == 0, "timer_create on the spinner's clock");
  struct itimerspec once = {{0, 0}, {0, 20 * 1000000}};
  CHECK(timer_settime(timer, 0, &once, NULL) == 0, "timer_settime");
  for (int i = 0; i < 1000 && !fired; i++) nanosleep(&ms10, NULL);
  CHECK(fired == 1, "the timer on the spinner's clock fired %d times", (int)fired);
  timer_delete(timer);
  fired = 0;
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: cpu_clock_ids DIR");
  own = mmap(NULL, sizeof *own, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(own != MAP_FAILED, "mmap");
  pid_t child = fork();
  CHECK(child >= 0, "fork");
  if (child == 0) spin(&own->child, CLOCK_PROCESS_CPUTIME_ID);
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
