/* A process that was stopped when a snapshot came is woken to take part, and its agent stops it
 * again once the snapshot is over (or once it is restored: preload/agent/agent_stop.c). Until
 * that stop signal is sent, a SIGCONT is lost: it would come before the stop. So before a
 * snapshot or a restore returns, the coordinator waits for every such process to have sent it
 * (its slot's `stopping` cleared) or to show state T (a SIGSTOP stops it before it can say so),
 * or to be gone. */
#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "../common/proc.h"
#include "../common/table.h"
#include "control.h"

static int still_to_stop(struct amber_table *t, struct amber_agent_slot *slot) {
  if (!__atomic_load_n(&slot->stopping, __ATOMIC_ACQUIRE)) return 0;
  int32_t sid = amber_v2s(t, AMBER_KIND_PID, slot->vpid);
  if (sid <= 0) return 0;
  char buf[1024];
  const char *fields = amber_proc_stat(sid, buf, sizeof buf);
  return fields && *fields != 'T' && *fields != 'Z' && *fields != 'X';
}

int amber_ctl_wait_stops(struct amber_table *t, int timeout_ms) {
  struct timespec pause = {0, 500 * 1000};
  for (int waited_us = 0;; waited_us += 500) {
    int32_t late = 0;
    for (uint32_t i = 0; i < t->ctl.nslots && i < AMBER_CTL_MAX_PROCS && !late; i++)
      if (still_to_stop(t, &t->ctl.slots[i])) late = t->ctl.slots[i].vpid;
    if (!late) return 0;
    if (waited_us >= timeout_ms * 1000) {
      snprintf(t->error, sizeof t->error,
               "process %d was stopped and has not stopped itself again", late);
      return -ETIMEDOUT;
    }
    nanosleep(&pause, 0);
  }
}
