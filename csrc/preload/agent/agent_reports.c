/* What a parent has not yet collected from its children with wait: a "continued" report
 * (WCONTINUED), and whether a stopped child's stop report (WUNTRACED) is still there. Looked at
 * with WNOWAIT, which leaves them in place, while the children are as the program left them
 * (the coordinator wakes a stopped child only once its parent has frozen, ctl_snapshot.c).
 *
 * A stopped child is woken for the snapshot and stops itself again afterwards, and a restored
 * one stops itself too: each stop is a new report. Where the parent had already collected the
 * stop, its agent collects the new one before the program runs again (amber_reports_settle). A
 * continued report is made again by the restorer: it stops the restored child and continues it
 * before the child has any handler (tree.c), from the process header's list. A stop the
 * parent had not collected comes back with its signal: the child stops itself by the same one
 * (agent_stop.c). */
#include <signal.h>
#include <sys/wait.h>

#include "agent.h"

#define MAX_CHILDREN 512

static int32_t stop_collected[AMBER_MAX_CONTINUED]; /* vpids; saved with memory */
static int nstop_collected;
int32_t amber_reports_continued[AMBER_MAX_CONTINUED]; /* into the process header */
int amber_reports_ncontinued;

/* waitid without taking the report: if child has one of `options`' kind, with that si_code,
 * its si_status (a stop's signal), else 0. */
static int peek(int32_t child, int options, int code) {
  siginfo_t si;
  si.si_pid = 0;
  long r = amber_sys5(SYS_waitid, P_PID, child, &si, options | WNOHANG | WNOWAIT | __WALL, 0);
  return r == 0 && si.si_pid == child && si.si_code == code ? (si.si_status > 0 ? si.si_status : 1)
                                                           : 0;
}

/* The stopped child's slot learns which signal stopped it: the report the restored parent
 * finds must say the same (a job-control shell tells SIGTSTP from SIGTTIN by it). */
static void note_stop_signal(int32_t vpid, int sig) {
  struct amber_ctl *c = &amber.table->ctl;
  for (uint32_t i = 0; i < c->nslots && i < AMBER_CTL_MAX_PROCS; i++)
    if (c->slots[i].vpid == vpid) __atomic_store_n(&c->slots[i].stop_signal, sig, __ATOMIC_RELEASE);
}

int amber_reports_stop_signal(struct amber_agent_slot *slot) {
  if (!__atomic_load_n(&slot->stopped, __ATOMIC_ACQUIRE)) return 0;
  int sig = __atomic_load_n(&slot->stop_signal, __ATOMIC_ACQUIRE);
  if (sig > 0 && sig < 32) return sig;
  /* No report seen: a snapshot right after a restore may find this process before it stopped
   * itself again (its parent's waitid saw nothing yet); the signal it stopped by is its own. */
  return amber_self_stop_signal ? amber_self_stop_signal : SIGSTOP;
}

/* The process's children: those of each of its threads; -1 when more than cap. */
int amber_list_children(int32_t *out, int cap) {
  static int32_t tids[AMBER_MAX_THREADS];
  static char text[4096];
  int ntids = amber_list_numbers("/proc/self/task", tids, AMBER_MAX_THREADS), n = 0;
  for (int t = 0; t < ntids; t++) {
    char path[64];
    amber_fmt(path, sizeof path, "/proc/self/task/%d/children", tids[t]);
    if (amber_read_file(path, text, sizeof text) <= 0) continue;
    for (const char *p = text; *p;) {
      uint64_t pid;
      if (amber_parse_u64(&p, &pid, 10)) {
        p++;
        continue;
      }
      if (n == cap) return -1;
      out[n++] = (int32_t)pid;
    }
  }
  return n;
}

static int too_many(const char *what) {
  amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
            "more than %d of its children have %s, which Amber cannot save", AMBER_MAX_CONTINUED,
            what);
  return -1;
}

int amber_reports_capture(void) {
  static int32_t children[MAX_CHILDREN];
  nstop_collected = amber_reports_ncontinued = 0;
  int n = amber_list_children(children, MAX_CHILDREN);
  if (n < 0) {
    amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
              "it has more than %d children, whose wait reports Amber cannot look at", MAX_CHILDREN);
    return -1;
  }
  for (int i = 0; i < n; i++) {
    int32_t child = children[i], vpid = amber_s2v(amber.table, AMBER_KIND_PID, child);
    if (vpid <= 0) continue;
    if (peek(child, WCONTINUED, CLD_CONTINUED)) {
      if (amber_reports_ncontinued == AMBER_MAX_CONTINUED)
        return too_many("a continued report not collected");
      amber_reports_continued[amber_reports_ncontinued++] = vpid;
    }
    char stat[64];
    amber_fmt(stat, sizeof stat, "/proc/%d/stat", child);
    if (amber_proc_state(stat) != 'T') continue;
    int sig = peek(child, WSTOPPED, CLD_STOPPED);
    if (sig) {
      note_stop_signal(vpid, sig);
      continue;
    }
    if (nstop_collected == AMBER_MAX_CONTINUED) return too_many("a stop report collected");
    stop_collected[nstop_collected++] = vpid;
  }
  return 0;
}

/* Collects the stop report of each stopped child whose stop the program had collected, once
 * that child has stopped again (after its own part of the snapshot or restore). A restored child
 * may take seconds to get there on a loaded machine: given up on sooner, its new report would
 * be there for the program, which had collected it (said in the log). */
#define SETTLE_MS 30000
void amber_reports_settle(void) {
  int64_t deadline = amber_monotonic_ns() / 1000000 + SETTLE_MS;
  for (int i = 0; i < nstop_collected; i++) {
    int32_t child = amber_v2s(amber.table, AMBER_KIND_PID, stop_collected[i]);
    for (;;) {
      siginfo_t si;
      si.si_pid = 0;
      long r = child > 0 ? amber_sys5(SYS_waitid, P_PID, child, &si, WSTOPPED | WNOHANG | __WALL, 0)
                         : -ESRCH;
      if (r < 0 || si.si_pid == child) break;
      if (amber_monotonic_ns() / 1000000 > deadline) {
        amber_log("child %d did not stop again within %d ms: its stop report is left to the "
                  "program", stop_collected[i], SETTLE_MS);
        break;
      }
      struct timespec pause = {0, 1000000};
      amber_sys2(SYS_nanosleep, &pause, 0);
    }
  }
  nstop_collected = 0; /* this snapshot's, or this restore's, alone */
}
