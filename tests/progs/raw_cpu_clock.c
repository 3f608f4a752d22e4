/* Raw clock calls on CPU clocks, made with the `syscall` instruction from the program's code
 * (where no libc function sees them, as Go's runtime or assembly would) and through syscall():
 * the process's clock (CLOCK_PROCESS_CPUTIME_ID, and clock_getcpuclockid's ID for it), the
 * thread's own (CLOCK_THREAD_CPUTIME_ID) and another thread's (pthread_getcpuclockid's ID,
 * which the kernel does not know as it is). After the restore each reads at least what it read
 * before, as libc's clock_gettime does; clock_getres takes the other thread's ID; an absolute
 * clock_nanosleep on the process's clock wakes at its time on the clock the program reads. Raw
 * realtime and monotonic reads (which the layer lets pass) agree with libc's. getrusage (the
 * process's, the thread's) and times made raw and through syscall() go on after the restore too,
 * as libc's do, not from about 0. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/times.h>
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

/* CPU microseconds in getrusage(who) and ticks in times(), read raw (how 1), through syscall()
 * (2) or libc (0). */
static long long rusage_us(int who, int how) {
  struct rusage u;
  long r = how == 1 ? raw_call(SYS_getrusage, who, (long)&u, 0, 0)
           : how == 2 ? syscall(SYS_getrusage, who, &u)
                      : getrusage(who, &u);
  CHECK(r == 0, "getrusage(%d) (%d): %ld", who, how, r);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000000LL + u.ru_utime.tv_usec +
         u.ru_stime.tv_usec;
}

static long long tms_ticks(int how) {
  struct tms t;
  long r = how == 1 ? raw_call(SYS_times, (long)&t, 0, 0, 0)
           : how == 2 ? syscall(SYS_times, &t)
                      : (long)times(&t);
  CHECK(r != -1 && (r >= 0 || r < -4095), "times (%d): %ld", how, r);
  return (long long)t.tms_utime + t.tms_stime;
}

/* Each read after the restore, libc's, raw, through syscall() and libc's again, follows the one
 * before, and the first what libc read before the snapshot. */
static void usage_after(const long long before[3]) {
  static const char *what[3] = {"getrusage(RUSAGE_SELF)", "getrusage(RUSAGE_THREAD)", "times"};
  for (int k = 0; k < 3; k++) {
    long long v[4];
    for (int how = 0; how < 4; how++)
      v[how] = k == 2 ? tms_ticks(how % 3) : rusage_us(k ? RUSAGE_THREAD : RUSAGE_SELF, how % 3);
    CHECK(v[0] >= before[k] && v[1] >= v[0] && v[2] >= v[1] && v[3] >= v[2],
          "%s does not go on after the restore: before %lld; libc %lld, raw %lld, syscall() %lld, "
          "libc %lld",
          what[k], before[k], v[0], v[1], v[2], v[3]);
  }
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
  long long usage[3] = {rusage_us(RUSAGE_SELF, 0), rusage_us(RUSAGE_THREAD, 0), tms_ticks(0)};
  say_ready();
  wait_go(argv[1]);
  usage_after(usage);

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
