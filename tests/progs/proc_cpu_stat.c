/* The CPU times the program reads in /proc go on across a restore: utime and stime of
 * /proc/self/stat, of a spinning thread's /proc/self/task/<tid>/stat and of its parent's
 * /proc/<pid>/stat read by a child, the run time in /proc/self/schedstat (the main thread's) and
 * in the spinning thread's schedstat. After the restore each reads at least what it read before
 * (utime and stime each), and stat agrees with times(), schedstat with the thread's CPU clock. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "ready_child.h"
#include "wait_go.h"

#define MS 1000000LL

static atomic_int spinner_tid;

static long long ns(clockid_t clock) {
  struct timespec ts;
  CHECK(clock_gettime(clock, &ts) == 0, "clock_gettime");
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

struct ticks {
  long long utime, stime;
};

/* utime and stime of a stat file, in clock ticks. */
static struct ticks stat_times(const char *path) {
  FILE *f = fopen(path, "r");
  CHECK(f, "open %s", path);
  char text[1024];
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = 0;
  const char *p = strrchr(text, ')');
  CHECK(p, "%s: %s", path, text);
  long long utime = 0, stime = 0;
  /* after "(comm)": state, then fields 4..13, then utime and stime */
  CHECK(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld", &utime, &stime) == 2,
        "%s: %s", path, text);
  return (struct ticks){utime, stime};
}

/* Each of the two at least what it was. */
static void not_back(const char *path, struct ticks was, struct ticks now) {
  CHECK(now.utime >= was.utime && now.stime >= was.stime,
        "%s went back: utime %lld, stime %lld, then %lld, %lld", path, was.utime, was.stime,
        now.utime, now.stime);
}

static long long stat_ticks(const char *path) {
  struct ticks t = stat_times(path);
  return t.utime + t.stime;
}

static long long schedstat_ns(const char *path) {
  FILE *f = fopen(path, "r");
  CHECK(f, "open %s", path);
  long long run = -1;
  CHECK(fscanf(f, "%lld", &run) == 1, "read %s", path);
  fclose(f);
  return run;
}

static long long times_ticks(void) {
  struct tms t;
  times(&t);
  return (long long)t.tms_utime + t.tms_stime;
}

static void *spinner(void *arg) {
  spinner_tid = (int)syscall(SYS_gettid);
  for (;;)
    for (volatile int i = 0; i < 100000; i++) {}
  return arg;
}

static int child(const char *dir, int ready) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)getppid());
  struct ticks before = stat_times(path);
  CHECK(before.utime + before.stime >= 20, "the child reads %lld ticks in its parent's stat",
        before.utime + before.stime);
  CHECK(write(ready, "r", 1) == 1, "write");
  wait_go(dir);
  not_back(path, before, stat_times(path)); /* read by the child */
  return 0;
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: proc_cpu_stat DIR");
  pthread_t b;
  CHECK(pthread_create(&b, NULL, spinner, NULL) == 0, "pthread_create");
  clockid_t b_clock;
  CHECK(pthread_getcpuclockid(b, &b_clock) == 0, "pthread_getcpuclockid");
  while (ns(CLOCK_THREAD_CPUTIME_ID) < 300 * MS) {}
  while (!spinner_tid || ns(b_clock) < 200 * MS) usleep(1000);
  pid_t pid = fork_ready(child, argv[1]);
  char task[64], task_stat[64];
  snprintf(task, sizeof task, "/proc/self/task/%d/schedstat", (int)spinner_tid);
  snprintf(task_stat, sizeof task_stat, "/proc/self/task/%d/stat", (int)spinner_tid);
  struct ticks stat = stat_times("/proc/self/stat"), b_stat = stat_times(task_stat);
  CHECK(b_stat.utime + b_stat.stime >= 10, "%s: %lld ticks", task_stat,
        b_stat.utime + b_stat.stime);
  long long main_run = schedstat_ns("/proc/self/schedstat"), b_run = schedstat_ns(task);
  say_ready();
  wait_go(argv[1]);

  not_back("/proc/self/stat", stat, stat_times("/proc/self/stat"));
  not_back(task_stat, b_stat, stat_times(task_stat));
  long long stat_after = stat_ticks("/proc/self/stat"), tk = times_ticks();
  CHECK(stat_after <= tk + 5 && tk <= stat_after + 50,
        "/proc/self/stat says %lld ticks, times() %lld", stat_after, tk);
  long long c1 = ns(CLOCK_THREAD_CPUTIME_ID), run = schedstat_ns("/proc/self/schedstat");
  long long c2 = ns(CLOCK_THREAD_CPUTIME_ID);
  CHECK(run >= main_run, "/proc/self/schedstat went back: %lld, then %lld", main_run, run);
  CHECK(run <= c2 && run >= c1 - 50 * MS, "/proc/self/schedstat says %lld, the clock %lld", run,
        c1);
  c1 = ns(b_clock), run = schedstat_ns(task), c2 = ns(b_clock);
  CHECK(run >= b_run, "%s went back: %lld, then %lld", task, b_run, run);
  CHECK(run <= c2 && run >= c1 - 50 * MS, "%s says %lld, the thread's clock %lld", task, run, c1);
  int status;
  CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child failed: status %d", status);
  printf("PASS\n");
  return 0;
}
