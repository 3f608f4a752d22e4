/* A process of a restore that ended before it was back says why, in the table's error, for
 * `amber restore` to print: killed by which signal, or its exit status, as its zombie's /proc
 * stat still tells (field 52, the wait status), or only that it ended once it was reaped. A
 * restorer or agent that failed has written its own reason first, which stays. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "../common/proc.h"
#include "../common/table.h"
#include "control.h"

#define STAT_EXIT_CODE 49 /* fields after the state, which amber_proc_stat starts at */

static int zombie_status(int32_t sid) {
  char buf[1024];
  const char *f = amber_proc_stat(sid, buf, sizeof buf);
  if (!f || *f != 'Z') return -1;
  for (int i = 0; i < STAT_EXIT_CODE && f; i++) {
    f = strchr(f, ' ');
    if (f) f++;
  }
  return f ? atoi(f) : -1;
}

void amber_ctl_restore_gone(struct amber_table *t, int32_t vpid, int32_t sid) {
  if (t->error[0]) return;
  int status = zombie_status(sid);
  const char *sig = status >= 0 && WIFSIGNALED(status) ? sigabbrev_np(WTERMSIG(status)) : NULL;
  if (sig)
    snprintf(t->error, sizeof t->error,
             "process %d (system pid %d) was killed by SIG%s%s before its restore was over", vpid,
             sid, sig, WCOREDUMP(status) ? " (core dumped)" : "");
  else if (status >= 0)
    snprintf(t->error, sizeof t->error,
             "process %d (system pid %d) exited with status %d before its restore was over", vpid,
             sid, WEXITSTATUS(status));
  else
    snprintf(t->error, sizeof t->error,
             "process %d (system pid %d) ended before its restore was over", vpid, sid);
}
