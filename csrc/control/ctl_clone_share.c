/* Processes (not threads) that share what clone(2) lets a child share with its parent: the
 * address space (CLONE_VM), the descriptor table (CLONE_FILES), the working directory, root and
 * umask (CLONE_FS). A restore makes each process its own, so a descriptor one opens would no
 * longer be the other's: the snapshot is refused, naming both, rather than losing the sharing.
 * kcmp(2) says exactly; the coordinator may use it on every process (ctl_share.c). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../common/sys.h"
#include "../common/table.h"
#include "clone_share.h"

#define KCMP_VM 1
#define KCMP_FILES 2
#define KCMP_FS 3

static const struct {
  int type;
  const char *what;
} shared_kinds[] = {
    {KCMP_VM, "one address space (clone with CLONE_VM)"},
    {KCMP_FILES, "one descriptor table (clone with CLONE_FILES)"},
    {KCMP_FS, "one working directory and umask (clone with CLONE_FS)"},
};

/* The system pid of slot i, or 0 when it is not in the image. */
static int32_t slot_pid(struct amber_table *t, uint32_t i) {
  if (__atomic_load_n(&t->ctl.slots[i].state, __ATOMIC_ACQUIRE) == AMBER_AGENT_EXITED) return 0;
  int32_t pid = amber_v2s(t, AMBER_KIND_PID, t->ctl.slots[i].vpid);
  return pid > 0 ? amber_live_task(pid) : 0;
}

int32_t amber_ctl_clone_sharing_check(struct amber_table *t, char *buf, int32_t cap) {
  struct amber_ctl *c = &t->ctl;
  for (uint32_t i = 0; i < c->nslots; i++) {
    int32_t a = slot_pid(t, i);
    for (uint32_t j = i + 1; a && j < c->nslots; j++) {
      int32_t b = slot_pid(t, j);
      for (size_t k = 0; b && k < sizeof shared_kinds / sizeof shared_kinds[0]; k++) {
        if (amber_sys5(SYS_kcmp, a, b, shared_kinds[k].type, 0, 0) != 0) continue;
        snprintf(buf, cap, "processes %d and %d share %s, which Amber cannot keep yet",
                 c->slots[i].vpid, c->slots[j].vpid, shared_kinds[k].what);
        return -EOPNOTSUPP;
      }
    }
  }
  return 0;
}
