/* The CPU times the program reads in /proc go on across a restore as its clocks do: the stat
 * and schedstat files it opens for reading are served as copies (proc_files.c), with the
 * library's shifts added. In a process's stat (/proc/<pid>/stat, self), utime and stime (fields
 * 14 and 15, clock ticks; its reaped children's, 16 and 17) get the process's times() shifts, found beside its row of the shared
 * tables (agent_process_cpu_time.c), so another process of the application reads them too. In a
 * schedstat (the process's main thread's, or task/<tid>/schedstat), the run time in ns gets the
 * thread's CPU clock shift (agent_cpu_time.c), and in a thread's stat (task/<tid>/stat) its user
 * and system time get its own shifts (agent_thread_times.c), for this process's own threads. */
#include <string.h>
#include <time.h>

#include "../core/amber.h"
#include "../core/util.h"
#include "cpu_clock.h"
#include "proc_files.h"

static int is_task(const char *path) {
  return strstr(path, "/task/") || !strncmp(path, "/proc/thread-self/", 18);
}

void amber_proc_stat_shifts(const char *path, int32_t sys_pid, int64_t shift[4]) {
  shift[0] = shift[1] = shift[2] = shift[3] = 0;
  if (is_task(path)) { /* stat's first field is the thread's TID */
    amber_thread_times_shift(sys_pid, shift);
    return;
  }
  if (sys_pid <= 0) return;
  int32_t vpid = amber_s2v(amber.table, AMBER_KIND_PID, sys_pid);
  struct amber_row *row = vpid > 0 ? amber_row_by_vid(amber.table, AMBER_KIND_PID, vpid) : 0;
  if (!row || !(__atomic_load_n(&row->flags, __ATOMIC_ACQUIRE) & AMBER_PID_PROCESS)) return;
  const int64_t *times = amber_process_times_shift(row);
  for (int i = 0; i < 2; i++) { /* utime, stime; cutime, cstime */
    shift[i] = __atomic_load_n(&times[i], __ATOMIC_RELAXED);
    shift[i + 2] = __atomic_load_n(&times[i + 4], __ATOMIC_RELAXED);
  }
}

/* The system TID whose schedstat `path` is: task/<tid>, thread-self, or the main thread of self
 * or of /proc/<pid> (a path already in system pids). */
static int32_t thread_of(const char *path) {
  const char *task = strstr(path, "/task/");
  const char *p = task ? task + 6 : path + 6;
  uint64_t id;
  if (!task && !strncmp(p, "self/", 5)) return amber_sys_getpid();
  if (!task && !strncmp(p, "thread-self/", 12)) return amber_sys_gettid();
  return amber_parse_u64(&p, &id, 10) ? 0 : (int32_t)id;
}

/* schedstat: "run_ns wait_ns timeslices". */
int amber_proc_rewrite_schedstat(const char *path, const char *in, char *out, int cap) {
  const char *p = in;
  uint64_t run;
  int32_t tid = thread_of(path);
  if (tid <= 0 || amber_parse_u64(&p, &run, 10)) return amber_fmt(out, cap, "%s", in);
  clockid_t clock = amber_cpu_clock_with(AMBER_CPUCLOCK_THREAD | AMBER_CPUCLOCK_SCHED, tid);
  struct timespec ts = {(time_t)(run / 1000000000), (long)(run % 1000000000)};
  ts = amber_timespec_shifted(ts, amber_cpu_time_shift(clock));
  return amber_fmt(out, cap, "%ld%s", (long)ts.tv_sec * 1000000000L + ts.tv_nsec, p);
}
