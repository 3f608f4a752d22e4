/* Processes (not threads) that share what clone(2) lets a child share with its parent: the
 * address space (CLONE_VM), the descriptor table (CLONE_FILES), the working directory, root and
 * umask (CLONE_FS). A child sharing its working directory with its parent (or with its parent's
 * parent through it) is restored so; for any other sharing a restore would make each process its
 * own, so a descriptor one opens would no longer be the other's: the snapshot is refused, naming
 * both, rather than losing the sharing. kcmp(2) says exactly; the coordinator may use it on
 * every process (ctl_share.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/proc.h"
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
    {KCMP_FS, "one working directory and umask (clone with CLONE_FS) other than a child's with its parent"},
};

/* The system pid of slot i, or 0 when it is not in the image. */
static int32_t slot_pid(struct amber_table *t, uint32_t i) {
  if (__atomic_load_n(&t->ctl.slots[i].state, __ATOMIC_ACQUIRE) == AMBER_AGENT_EXITED) return 0;
  int32_t pid = amber_v2s(t, AMBER_KIND_PID, t->ctl.slots[i].vpid);
  return pid > 0 ? amber_live_task(pid) : 0;
}

/* The slot of process i's parent, or -1 when its parent is not in the application. */
static int parent_slot(struct amber_table *t, uint32_t i) {
  int32_t pid = amber_v2s(t, AMBER_KIND_PID, t->ctl.slots[i].vpid);
  char buf[1024];
  const char *fields = pid > 0 ? amber_proc_stat(pid, buf, sizeof buf) : NULL;
  int32_t ppid = fields ? atoi(fields + 2) : 0, vppid = ppid > 0 ? amber_s2v(t, AMBER_KIND_PID, ppid) : -1;
  for (uint32_t j = 0; vppid > 0 && j < t->ctl.nslots; j++)
    if (t->ctl.slots[j].vpid == vppid && slot_pid(t, j)) return (int)j;
  return -1;
}

/* The process at the top of i's chain of parents it shares its working directory with. */
static uint32_t fs_top(struct amber_table *t, uint32_t i, const int *parents) {
  for (uint32_t hops = 0; t->ctl.slots[i].fs_with_parent && hops < t->ctl.nslots; hops++)
    i = (uint32_t)parents[i];
  return i;
}

/* A child that shares its working directory with its parent is restored so (the restorer
 * clones it with CLONE_FS); any other sharing is refused. */
int32_t amber_ctl_clone_sharing_check(struct amber_table *t, char *buf, int32_t cap) {
  struct amber_ctl *c = &t->ctl;
  int parents[AMBER_CTL_MAX_PROCS];
  for (uint32_t i = 0; i < c->nslots; i++) {
    parents[i] = parent_slot(t, i);
    int32_t a = slot_pid(t, i);
    c->slots[i].fs_with_parent = a && parents[i] >= 0 &&
                                 amber_sys5(SYS_kcmp, a, slot_pid(t, (uint32_t)parents[i]),
                                            KCMP_FS, 0, 0) == 0;
  }
  for (uint32_t i = 0; i < c->nslots; i++) {
    int32_t a = slot_pid(t, i);
    for (uint32_t j = i + 1; a && j < c->nslots; j++) {
      int32_t b = slot_pid(t, j);
      for (size_t k = 0; b && k < sizeof shared_kinds / sizeof shared_kinds[0]; k++) {
        if (amber_sys5(SYS_kcmp, a, b, shared_kinds[k].type, 0, 0) != 0) continue;
        if (shared_kinds[k].type == KCMP_FS && fs_top(t, i, parents) == fs_top(t, j, parents))
          continue;
        snprintf(buf, cap, "processes %d and %d share %s, which Amber cannot keep yet",
                 c->slots[i].vpid, c->slots[j].vpid, shared_kinds[k].what);
        return -EOPNOTSUPP;
      }
    }
  }
  return 0;
}
