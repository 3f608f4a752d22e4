/* Raw clock calls on CPU clocks, made with the `syscall` instruction from the program's code
 * (where no libc function sees them, as Go's runtime or assembly would) and through syscall():
 * the process's clock (CLOCK_PROCESS_CPUTIME_ID, and clock_getcpuclockid's ID for it), the
 * thread's own (CLOCK_THREAD_CPUTIME_ID) and another thread's (pthread_getcpuclockid's ID,
 * which the kernel does not know as it is). After the restore each reads at least what it read
 * before, as libc's clock_gettime does; clock_getres takes the other thread's ID; an absolute
 * clock_nanosleep on the process's clock wakes at its time on the clock the program reads. Raw
 * realtime and monotonic reads (which the layer lets pass) agree with libc's. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "raw_call.h"
#include "wait_go.h"

#define MS 1000000LL

static long long total(struct timespec ts) { return ts.tv_sec * 1000000000LL + ts.tv_nsec; }

/* Sign-extended as syscall() passes it, or not (a 32-bit move), as assembly may. */
static long long raw_ns(clockid_t clock, int zero_extended) {
  struct timespec ts;
  long id = zero_extended ? (long)(unsigned)clock : (long)clock;
  long r = raw_call(SYS_clock_gettime, id, (long)&ts, 0, 0);
  CHECK(r == 0, "raw clock_gettime(%d): %ld", (int)clock, r);
  return total(ts);
}

static long long libc_ns(clockid_t clock) {
  struct timespec ts;
  CHECK(clock_gettime(clock, &ts) == 0, "clock_gettime(%d)", (int)clock);
  return total(ts);
}

static long long syscall_ns(clockid_t clock) {
  struct timespec ts;
  CHECK(syscall(SYS_clock_gettime, clock, &ts) == 0, "syscall(clock_gettime, %d)", (int)clock);
  return total(ts);
}

static void *spinner(void *arg) {
  for (;;)
    for (volatile int i = 0; i < 100000; i++) {}
  return arg;
}

enum { PROCESS, PROCESS_ID, THREAD, OTHER, NCLOCKS };
static clockid_t clocks[NCLOCKS] = {CLOCK_PROCESS_CPUTIME_ID, 0, CLOCK_THREAD_CPUTIME_ID, 0};
static const char *names[NCLOCKS] = {"the process's", "the process's by its ID", "the thread's",
                                     "another thread's"};

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: raw_cpu_clock DIR");
  pthread_t b;
  CHECK(pthread_create(&b, NULL, spinner, NULL) == 0, "pthread_create");
  CHECK(clock_getcpuclockid(0, &clocks[PROCESS_ID]) == 0, "clock_getcpuclockid");
  CHECK(pthread_getcpuclockid(b, &clocks[OTHER]) == 0, "pthread_getcpuclockid");
  while (libc_ns(CLOCK_THREAD_CPUTIME_ID) < 200 * MS) {}
  while (libc_ns(clocks[OTHER]) < 200 * MS) usleep(1000);
  long long before[NCLOCKS];
  for (int k = 0; k < NCLOCKS; k++) before[k] = libc_ns(clocks[k]);
  say_ready();
  wait_go(argv[1]);

  for (int k = 0; k < NCLOCKS; k++) {
    long long libc = libc_ns(clocks[k]), raw = raw_ns(clocks[k], 0);
    long long raw32 = raw_ns(clocks[k], 1), via = syscall_ns(clocks[k]);
    long long after = libc_ns(clocks[k]);
    CHECK(libc >= before[k], "%s clock went back (libc): %lld, then %lld", names[k], before[k],
          libc);
    CHECK(raw >= libc && raw32 >= raw && via >= raw32 && after >= via,
          "%s clock, read raw, does not follow libc's: libc %lld, raw %lld, raw (32-bit ID) %lld, "
          "syscall() %lld, libc %lld",
          names[k], libc, raw, raw32, via, after);
  }
  struct timespec res;
  long r = raw_call(SYS_clock_getres, clocks[OTHER], (long)&res, 0, 0);
  CHECK(r == 0 && total(res) > 0, "raw clock_getres of another thread's clock: %ld", r);

  long long until = libc_ns(CLOCK_PROCESS_CPUTIME_ID) + 20 * MS;
  struct timespec deadline = {until / 1000000000LL, until % 1000000000LL};
  while ((r = raw_call(SYS_clock_nanosleep, CLOCK_PROCESS_CPUTIME_ID, TIMER_ABSTIME,
                       (long)&deadline, 0)) == -EINTR) {}
  CHECK(r == 0, "raw clock_nanosleep on the process's clock: %ld", r);
  long long woke = libc_ns(CLOCK_PROCESS_CPUTIME_ID);
  CHECK(woke >= until && woke < until + 150 * MS, "raw clock_nanosleep until %lld woke at %lld",
        until, woke);

  for (clockid_t c = CLOCK_REALTIME; c <= CLOCK_MONOTONIC; c++) {
    long long libc = libc_ns(c), raw = raw_ns(c, 0);
    CHECK(raw >= libc && raw < libc + 1000 * MS, "raw clock %d reads %lld, libc %lld", (int)c, raw,
          libc);
  }
  printf("PASS\n");
  return 0;
}
