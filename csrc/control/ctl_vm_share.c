/* Processes of an application that share one address space: a raw clone with CLONE_VM without
 * CLONE_VFORK (trap_clone_vm.c gives the child its row). Amber saves and restores each process's
 * memory by itself and cannot make two share it again, and the checkpoint signal would run two
 * agents on one memory: the snapshot is refused before any signal, naming both. A vfork child
 * shares its parent's memory too, until it execs or exits, which it does soon: the pair is
 * waited for, a second at most. kcmp(2) tells. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../common/proc.h"
#include "../common/sys.h"
#include "../common/table.h"
#include "control.h"

#define API __attribute__((visibility("default")))

#define KCMP_VM 1

/* A process that has exited (a zombie, or a main thread gone) has no memory: two of them would
 * compare equal. */
static int has_memory(int32_t pid) {
  char path[64], text[16];
  snprintf(path, sizeof path, "/proc/%d/statm", pid);
  FILE *f = fopen(path, "r");
  int yes = f && fgets(text, sizeof text, f) && atol(text) > 0;
  if (f) fclose(f);
  return yes;
}

static int shared(int32_t a, int32_t b) {
  return amber_sys5(SYS_kcmp, a, b, KCMP_VM, 0, 0) == 0 && has_memory(a) && has_memory(b);
}

API int32_t amber_ctl_vm_sharing(void *table, char *buf, int32_t cap) {
  struct amber_table *t = table;
  int32_t vid[AMBER_CTL_MAX_PROCS], sid[AMBER_CTL_MAX_PROCS];
  uint32_t n = 0;
  buf[0] = 0;
  amber_table_lock(t);
  for (uint32_t i = 0; i < t->high[AMBER_KIND_PID] && n < AMBER_CTL_MAX_PROCS; i++) {
    struct amber_row *r = &t->rows[AMBER_KIND_PID][i];
    if (r->state != AMBER_ROW_LIVE || !(r->flags & AMBER_PID_PROCESS) || r->sid <= 0) continue;
    vid[n] = r->vid;
    sid[n++] = r->sid;
  }
  amber_table_unlock(t);
  for (uint32_t i = 0; i < n; i++)
    for (uint32_t j = i + 1; j < n; j++) {
      /* a vfork child execs or exits soon: waited for, a second at most */
      for (int tries = 0; tries < 100 && shared(sid[i], sid[j]); tries++) usleep(10000);
      if (!shared(sid[i], sid[j])) continue;
      snprintf(buf, cap,
               "processes %d and %d share one address space (a clone with CLONE_VM, or a vfork "
               "child before its exec), which Amber cannot snapshot yet",
               vid[i], vid[j]);
      return -EOPNOTSUPP;
    }
  return 0;
}
