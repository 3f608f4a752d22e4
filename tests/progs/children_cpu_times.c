/* The CPU time of reaped children, and of the calling thread, goes on across a restore as the
 * process's own does: times()'s cutime and cstime, getrusage(RUSAGE_CHILDREN), fields 16 and 17
 * of /proc/self/stat, getrusage(RUSAGE_THREAD); and a child that burned CPU before the snapshot
 * and is reaped after the restore brings that time along, in wait4's rusage and its parent's
 * children's. Usage: children_cpu_times <dir> */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "wait_go.h"

#define MS 1000000LL

static long long cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void burn(long long ms) {
  long long until = cpu_ns() + ms * MS;
  while (cpu_ns() < until) {}
}

static long long ru_ms(int who) {
  struct rusage u;
  CHECK(getrusage(who, &u) == 0, "getrusage(%d)", who);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000LL +
         (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1000;
}

static long children_ticks(void) {
  struct tms t;
  times(&t);
  return (long)(t.tms_cutime + t.tms_cstime);
}

/* Fields 16 and 17 of /proc/self/stat, summed. */
static long stat_children_ticks(void) {
  char text[1024];
  FILE *f = fopen("/proc/self/stat", "r");
  CHECK(f && fgets(text, sizeof text, f), "read /proc/self/stat");
  fclose(f);
  const char *p = strrchr(text, ')') + 2;
  long v[18] = {0};
  for (int field = 3; field <= 17 && *p; field++) {
    sscanf(p, "%ld", &v[field]);
    p = strchr(p, ' ');
    if (!p) break;
    p++;
  }
  return v[16] + v[17];
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: children_cpu_times DIR");
  pid_t done = fork();
  if (done == 0) {
    burn(300);
    _exit(0);
  }
  CHECK(waitpid(done, NULL, 0) == done, "waitpid");
  pid_t alive = fork();
  if (alive == 0) {
    burn(200);
    while (!go_exists(argv[1])) usleep(10000);
    _exit(0);
  }
  burn(200);
  long ticks = children_ticks(), stat_ticks = stat_children_ticks();
  long long children = ru_ms(RUSAGE_CHILDREN), thread = ru_ms(RUSAGE_THREAD);
  CHECK(children >= 240 && ticks >= 24 && stat_ticks >= 24 && thread >= 160,
        "before: children %lld ms, %ld ticks (stat %ld), thread %lld ms", children, ticks,
        stat_ticks, thread);
  usleep(300 * 1000); /* the child burns its 200 ms */
  say_ready();
  wait_go(argv[1]);

  CHECK(children_ticks() >= ticks, "times() cutime + cstime went back: %ld, then %ld", ticks,
        children_ticks());
  CHECK(stat_children_ticks() >= stat_ticks, "/proc/self/stat cutime + cstime went back: %ld, then %ld",
        stat_ticks, stat_children_ticks());
  CHECK(ru_ms(RUSAGE_CHILDREN) >= children, "RUSAGE_CHILDREN went back: %lld ms, then %lld",
        children, ru_ms(RUSAGE_CHILDREN));
  /* a thread's shift is kept in clock ticks (agent_thread_times.c): to the tick */
  CHECK(ru_ms(RUSAGE_THREAD) >= thread - 20, "RUSAGE_THREAD went back: %lld ms, then %lld", thread,
        ru_ms(RUSAGE_THREAD));
  struct rusage u;
  int status;
  CHECK(wait4(alive, &status, 0, &u) == alive, "wait4 of the child alive across the snapshot");
  long long its = (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000LL +
                  (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1000;
  CHECK(its >= 160, "wait4's rusage lost the child's time before the restore: %lld ms", its);
  CHECK(ru_ms(RUSAGE_CHILDREN) >= children + 160,
        "RUSAGE_CHILDREN lacks the reaped child's time before the restore: %lld ms, then %lld",
        children, ru_ms(RUSAGE_CHILDREN));
  CHECK(children_ticks() >= ticks + 16, "times() lacks the reaped child's time: %ld, then %ld",
        ticks, children_ticks());
  printf("PASS\n");
  return 0;
}
