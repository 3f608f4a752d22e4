/* How a process of a restore that ended before it was back is named, in the table's error for
 * `amber restore` to print: by the coordinator, from its zombie (control/ctl_restore_gone.c), or
 * by the supervisor, which reaps the processes it is the parent of (the root, orphans) before the
 * coordinator could look (supervisor/restore_gone.c). `status` is a wait status, -1 unknown. */
#ifndef AMBER_RESTORE_GONE_H
#define AMBER_RESTORE_GONE_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

static inline void amber_restore_gone_text(char *buf, int cap, int32_t vpid, int32_t sid,
                                           int status) {
  const char *sig = status >= 0 && WIFSIGNALED(status) ? sigabbrev_np(WTERMSIG(status)) : NULL;
  if (sig)
    snprintf(buf, cap,
             "process %d (system pid %d) was killed by SIG%s%s before its restore was over", vpid,
             sid, sig, WCOREDUMP(status) ? " (core dumped)" : "");
  else if (status >= 0)
    snprintf(buf, cap,
             "process %d (system pid %d) exited with status %d before its restore was over", vpid,
             sid, WEXITSTATUS(status));
  else
    snprintf(buf, cap, "process %d (system pid %d) ended before its restore was over", vpid, sid);
}

#endif
