/* The root process of a restore ending before it is back (killed meanwhile, the OOM killer) is
 * the supervisor's child: its reap would take the zombie whose wait status the coordinator reads
 * to name how it ended (control/ctl_restore_gone.c), so the supervisor names it first, from a
 * look at its status that leaves the zombie (WNOWAIT), and reaps it after. */
#include <signal.h>
#include <sys/wait.h>

#include "../common/restore_gone.h"
#include "supervisor.h"

static int over; /* every process said it was back: nothing more to name */

static int restore_over(struct amber_table *t) {
  if (over) return 1;
  for (uint32_t i = 0; i < t->ctl.nslots; i++) {
    int32_t state = __atomic_load_n(&t->ctl.slots[i].state, __ATOMIC_ACQUIRE);
    if (state != AMBER_AGENT_RESUMED && state != AMBER_AGENT_EXITED) return 0;
  }
  return over = t->ctl.nslots > 0;
}

static int wait_status(const siginfo_t *info) {
  if (info->si_code == CLD_EXITED) return (info->si_status & 0xff) << 8;
  return info->si_status | (info->si_code == CLD_DUMPED ? 0x80 : 0);
}

void sup_restore_gone(struct amber_table *t, pid_t root) {
  if (restore_over(t)) return;
  siginfo_t info = {0};
  if (waitid(P_PID, root, &info, WEXITED | WNOHANG | WNOWAIT) || info.si_pid != root) return;
  if (t->error[0]) return; /* the restorer said why itself */
  amber_table_lock(t);
  struct amber_row *row = amber_row_by_sid(t, AMBER_KIND_PID, root);
  int32_t vpid = row ? row->vid : -1;
  amber_table_unlock(t);
  for (uint32_t i = 0; vpid > 0 && i < t->ctl.nslots; i++) {
    int32_t state = __atomic_load_n(&t->ctl.slots[i].state, __ATOMIC_ACQUIRE);
    if (t->ctl.slots[i].vpid == vpid && state != AMBER_AGENT_RESUMED &&
        state != AMBER_AGENT_EXITED)
      amber_restore_gone_text(t->error, sizeof t->error, vpid, root, wait_status(&info));
  }
}
