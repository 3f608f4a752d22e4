/* POSIX timers (timer_create). The program holds their kernel IDs, so a restore must make
 * each again under the same ID: the kernel allows that since Linux 6.16
 * (PR_TIMER_CREATE_RESTORE_IDS). /proc/self/timers gives each timer's clock, notification and
 * signal value; timer_gettime what is left of it. A timer that signals one thread (glibc's
 * SIGEV_THREAD helper, or SIGEV_THREAD_ID) is pointed at that thread's new TID. */
#include <signal.h>
#include <string.h>
#include <time.h>

#include "../../common/errno_name.h"
#include "agent.h"
#include "../wrappers/cpu_clock.h"

#ifndef PR_TIMER_CREATE_RESTORE_IDS
#define PR_TIMER_CREATE_RESTORE_IDS 77
#endif
#define MAX_TIMERS 64
#define NOTIFY_THREAD 4 /* SIGEV_THREAD_ID */

static struct saved_timer {
  int32_t id, clock, notify, signo;
  int32_t tid; /* the thread it signals (a system TID at the snapshot) */
  int32_t cpu_id; /* on a CPU clock of this process or of one of its threads: its system ID */
  uint64_t value; /* sigev_value */
  struct itimerspec left;
} timers[MAX_TIMERS];
static int ntimers; /* saved with memory */

static int starts(const char *line, const char *word) { return !strncmp(line, word, strlen(word)); }

static int own_thread(int32_t tid) {
  for (int k = 0; k < amber_ckpt.nthreads; k++)
    if (amber_ckpt.threads[k].old_tid == tid) return 1;
  return 0;
}

/* A CPU clock is this process's (0 or its pid), or one of its threads' (a TID; 0 is a timer
 * made behind the library's back on its maker's clock, which the kernel does not name). */
static int check_cpu_clock(struct saved_timer *t) {
  int32_t id = amber_cpu_clock_id(t->clock);
  t->cpu_id = id;
  if (amber_cpu_clock_thread(t->clock) ? own_thread(id) : id == 0 || id == amber_sys_getpid())
    return 0;
  const char *why = !amber_cpu_clock_thread(t->clock) ? "another process's CPU clock"
                    : id ? "the CPU clock of a thread of another process"
                         : "the CPU clock of the thread that made it, behind Amber's back";
  amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
            "POSIX timer %d runs on %s, which Amber cannot save", t->id, why);
  return -1;
}

/* The clock of a saved timer in the restored process: a CPU clock gets the new pid or TID. */
static clockid_t restored_clock(const struct saved_timer *t) {
  if (!amber_cpu_clock(t->clock) || t->cpu_id == 0) return t->clock;
  if (!amber_cpu_clock_thread(t->clock)) return amber_cpu_clock_with(t->clock, amber_sys_getpid());
  for (int k = 0; k < amber_ckpt.nthreads; k++)
    if (amber_ckpt.threads[k].old_tid == t->cpu_id)
      return amber_cpu_clock_with(t->clock, amber_ckpt.threads[k].tid);
  return t->clock;
}

/* One line of /proc/self/timers into the timer being read. */
static int parse_line(const char *line, struct saved_timer *t) {
  uint64_t v = 0;
  const char *p;
  if (starts(line, "signal: ")) {
    p = line + 8;
    amber_parse_u64(&p, &v, 10);
    t->signo = (int32_t)v;
    if (*p == '/') p++;
    amber_parse_u64(&p, &t->value, 16);
  } else if (starts(line, "notify: ")) {
    p = line + 8;
    /* "signal/pid.N", "none/pid.N", or "signal/tid.N" for a timer aimed at one thread */
    t->notify = starts(p, "none") ? SIGEV_NONE : SIGEV_SIGNAL;
    while (*p && *p != '/' && *p != '\n') p++;
    if (starts(p, "/tid.")) t->notify = NOTIFY_THREAD;
    while (*p && *p != '.' && *p != '\n') p++;
    if (*p == '.') p++;
    amber_parse_u64(&p, &v, 10);
    t->tid = (int32_t)v;
  } else if (starts(line, "ClockID: ")) {
    p = line + 9;
    int negative = *p == '-';
    p += negative;
    amber_parse_u64(&p, &v, 10);
    t->clock = negative ? -(int32_t)v : (int32_t)v;
    return amber_cpu_clock(t->clock) ? check_cpu_clock(t) : 0;
  }
  return 0;
}

int amber_timers_capture(void) {
  static char text[16384];
  ntimers = 0;
  long n = amber_read_file("/proc/self/timers", text, sizeof text);
  struct saved_timer *t = 0;
  for (const char *line = text; n > 0 && *line;) {
    if (starts(line, "ID: ")) {
      if (ntimers == MAX_TIMERS) {
        amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error, "it has more than %d POSIX timers",
                  MAX_TIMERS);
        return -1;
      }
      t = &timers[ntimers++];
      memset(t, 0, sizeof *t);
      const char *p = line + 4;
      uint64_t v;
      amber_parse_u64(&p, &v, 10);
      t->id = (int32_t)v;
    } else if (t && parse_line(line, t)) {
      return -1;
    }
    while (*line && *line != '\n') line++;
    if (*line) line++;
  }
  for (int i = 0; i < ntimers; i++) amber_sys2(SYS_timer_gettime, timers[i].id, &timers[i].left);
  return 0;
}

/* After a restore, once every thread has its new TID (old_tid -> tid in the thread records). */
int amber_timers_after_restore(void) {
  if (!ntimers) return 0;
  long r = amber_sys2(SYS_prctl, PR_TIMER_CREATE_RESTORE_IDS, 1);
  if (r < 0) {
    amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
              "this kernel cannot give POSIX timers their IDs back (Linux 6.16 can)");
    return -1;
  }
  int err = 0;
  for (int i = 0; i < ntimers && !err; i++) {
    struct saved_timer *t = &timers[i];
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = t->notify;
    ev.sigev_signo = t->signo;
    ev.sigev_value.sival_ptr = (void *)t->value;
    if (t->notify == NOTIFY_THREAD) {
      for (int k = 0; k < amber_ckpt.nthreads; k++)
        if (amber_ckpt.threads[k].old_tid == t->tid) ev._sigev_un._tid = amber_ckpt.threads[k].tid;
    }
    int id = t->id;
    r = amber_sys3(SYS_timer_create, restored_clock(t), &ev, &id);
    if (r == 0 && id != t->id) r = -EEXIST;
    if (r == 0 && (t->left.it_value.tv_sec || t->left.it_value.tv_nsec))
      r = amber_sys4(SYS_timer_settime, id, 0, &t->left, 0);
    if (r < 0) {
      amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
                "cannot make POSIX timer %d again (%s)", t->id, amber_errno_name(r));
      err = -1;
    }
  }
  amber_sys2(SYS_prctl, PR_TIMER_CREATE_RESTORE_IDS, 0);
  return err;
}
