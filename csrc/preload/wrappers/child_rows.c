/* A wait that reaps a child returns the child's system pid, which the wrapper then makes
 * virtual. A snapshot can land between the two: the kernel has reaped the child, so the
 * snapshot saves no process for it, and a restore drops its row; the wrapper, resumed in the
 * restored process, would find no row for the old system pid and hand the program a system pid
 * (or release a row that pid names now). So the agent keeps, at each checkpoint, the virtual
 * and system pids of this process's children as they were then, and a wait that a checkpoint
 * overtook translates through that list. */
#include "../core/util.h"
#include "../core/amber.h"
#include "cpu_clock.h"

#define KEPT_MAX 1024

static struct {
  int32_t vid, sid;
} kept[KEPT_MAX]; /* saved with memory */
static int nkept;

/* In the checkpoint handler, while the process is frozen. */
void amber_child_rows_capture(void) {
  struct amber_table *t = amber.table;
  nkept = 0;
  if (!t) return;
  for (uint32_t i = 0; i < t->high[AMBER_KIND_PID] && nkept < KEPT_MAX; i++) {
    const struct amber_row *r = &t->rows[AMBER_KIND_PID][i];
    if (r->state == AMBER_ROW_LIVE && (r->flags & AMBER_PID_PROCESS) && r->parent == amber.vpid &&
        r->sid > 0)
      kept[nkept].vid = r->vid, kept[nkept++].sid = r->sid;
  }
}

/* Its times before a restore go to this process's children's, then its row goes. */
static void reaped(int32_t spid, int32_t vid) {
  amber_process_child_reaped(vid);
  amber_pid_release(spid);
}

int32_t amber_reaped_out(int32_t spid, uint32_t gen, int release) {
  if (spid <= 0) return spid;
  int32_t now = amber_pid_s2v(spid);
  if (gen != amber.checkpoints) { /* a checkpoint overtook the wait: spid is as it was then */
    for (int i = 0; i < nkept; i++)
      if (kept[i].sid == spid) {
        /* Still the same process (no restore came): its row goes as usual. Otherwise the
         * restore dropped the row already, and spid may name another process now. */
        if (release && now == kept[i].vid) reaped(spid, now);
        return kept[i].vid;
      }
  }
  if (release && now > 0) reaped(spid, now);
  return now > 0 ? now : spid;
}
