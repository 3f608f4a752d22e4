/* A process of a restore that ended before it was back says why, in the table's error, for
 * `amber restore` to print: killed by which signal, or its exit status, as its zombie's /proc
 * stat still tells (field 52, the wait status), or only that it ended once it was reaped. A
 * restorer or agent that failed has written its own reason first, which stays. The supervisor
 * names the processes it reaps itself (supervisor/restore_gone.c). */
#include <stdlib.h>
#include <string.h>

#include "../common/proc.h"
#include "../common/restore_gone.h"
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
  if (!t->error[0]) amber_restore_gone_text(t->error, sizeof t->error, vpid, sid, zombie_status(sid));
}
