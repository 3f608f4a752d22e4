/* The process's CPU time goes on across a restore: the process burns CPU and reads its own clock
 * (CLOCK_PROCESS_CPUTIME_ID, clock(), times(), getrusage()); a child reads the parent's clock
 * (clock_getcpuclockid(getppid())). After the restore each reads at least what it read before.
 * Then a thread burns while the main thread sleeps on the process's clock until an absolute
 * time a little ahead: it wakes soon after that time, not once the clock as the kernel counts
 * it (without the time before the snapshot) got there. Last, the process execs itself and reads
 * its clock, times() and getrusage() again. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "ready_child.h"
#include "wait_go.h"

#define MS 1000000LL
#define BURNT (300 * MS) /* before the snapshot: what the clock would lose */

static atomic_int finish;

static long long ns(clockid_t clock) {
  struct timespec ts;
  CHECK(clock_gettime(clock, &ts) == 0, "clock_gettime");
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long ticks(void) {
  struct tms t;
  times(&t);
  return (long long)t.tms_utime + t.tms_stime;
}

static long long rusage_us(void) {
  struct rusage u;
  CHECK(getrusage(RUSAGE_SELF, &u) == 0, "getrusage");
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000000LL + u.ru_utime.tv_usec +
         u.ru_stime.tv_usec;
}

static void *burner(void *arg) {
  while (!finish) {}
  return arg;
}

static int child(const char *dir, int ready) {
  clockid_t parents;
  CHECK(clock_getcpuclockid(getppid(), &parents) == 0, "the parent's clock");
  long long before = ns(parents);
  CHECK(before >= BURNT, "the child reads the parent's clock at %lld", before);
  CHECK(write(ready, "r", 1) == 1, "write");
  wait_go(dir);
  long long after = ns(parents);
  CHECK(after >= before, "the parent's clock went back, read by the child: %lld, then %lld",
        before, after);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 5) { /* exec'd by itself: the clock, times() and getrusage() go on past it too */
    long long was = atoll(argv[2]), now = ns(CLOCK_PROCESS_CPUTIME_ID);
    CHECK(now >= was, "the process's clock went back across an exec: %lld, then %lld", was, now);
    long long tk_was = atoll(argv[3]), tk_now = ticks();
    CHECK(tk_now >= tk_was, "times() went back across an exec: %lld, then %lld ticks", tk_was,
          tk_now);
    long long ru_was = atoll(argv[4]), ru_now = rusage_us();
    CHECK(ru_now >= ru_was, "getrusage() went back across an exec: %lld, then %lld us", ru_was,
          ru_now);
    printf("PASS\n");
    return 0;
  }
  CHECK(argc == 2, "usage: process_cpu_time DIR [CLOCK TICKS RUSAGE]");
  while (ns(CLOCK_PROCESS_CPUTIME_ID) < BURNT) {}
  pid_t pid = fork_ready(child, argv[1]);
  long long own = ns(CLOCK_PROCESS_CPUTIME_ID), cl = clock(), tk = ticks(), ru = rusage_us();
  say_ready();
  wait_go(argv[1]);

  long long own_after = ns(CLOCK_PROCESS_CPUTIME_ID), cl_after = clock();
  long long tk_after = ticks(), ru_after = rusage_us();
  CHECK(own_after >= own, "the process's clock went back: %lld, then %lld", own, own_after);
  CHECK(cl_after >= cl, "clock() went back: %lld, then %lld", cl, cl_after);
  CHECK(tk_after >= tk, "times() went back: %lld, then %lld ticks", tk, tk_after);
  CHECK(ru_after >= ru, "getrusage() went back: %lld, then %lld us", ru, ru_after);

  pthread_t thread;
  CHECK(pthread_create(&thread, NULL, burner, NULL) == 0, "pthread_create");
  long long until = ns(CLOCK_PROCESS_CPUTIME_ID) + 20 * MS;
  struct timespec deadline = {until / 1000000000LL, until % 1000000000LL};
  int err;
  while ((err = clock_nanosleep(CLOCK_PROCESS_CPUTIME_ID, TIMER_ABSTIME, &deadline, NULL)) ==
         EINTR) {}
  CHECK(err == 0, "clock_nanosleep on the process's clock: error %d", err);
  long long woke = ns(CLOCK_PROCESS_CPUTIME_ID);
  CHECK(woke >= until, "woke at %lld before the deadline %lld", woke, until);
  CHECK(woke < until + BURNT / 2, "woke at %lld, %lld ms after the deadline", woke,
        (woke - until) / MS);
  finish = 1;
  pthread_join(thread, NULL);

  int status;
  CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child failed: status %d", status);
  char was[32], tk_was[32], ru_was[32];
  snprintf(was, sizeof was, "%lld", ns(CLOCK_PROCESS_CPUTIME_ID));
  snprintf(tk_was, sizeof tk_was, "%lld", ticks());
  snprintf(ru_was, sizeof ru_was, "%lld", rusage_us());
  execl("/proc/self/exe", argv[0], argv[1], was, tk_was, ru_was, (char *)NULL);
  CHECK(0, "exec");
  return 1;
}
