/* Namespaces. Amber makes none: a restore brings every process back in the namespaces of the
 * restoring supervisor. A process of the application in namespaces of its own (unshare -Urn,
 * a sandbox, a container runtime) would come back in the supervisor's without a word: uid 0 in
 * its user namespace becomes the real user, a process cut off from the network has it, its
 * private mounts are gone. The coordinator compares each process's namespaces with the
 * supervisor's, and refuses the snapshot, naming the process and the namespace. A kind the
 * kernel does not have (time before 5.6) is not compared; a process the coordinator may not
 * look at was refused by the share scan already. */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include "../common/table.h"
#include "clone_share.h"
#include "control.h"

static const char *const kinds[] = {"user", "net", "mnt", "pid", "ipc", "uts", "cgroup", "time"};

static int ns_of(int pid, const char *kind, struct stat *st) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/ns/%s", pid, kind);
  return stat(path, st);
}

int amber_share_namespaces(struct amber_table *t, char *buf, int cap) {
  int32_t sup = -1;
  for (uint32_t i = 0; i < t->high[AMBER_KIND_PID]; i++) {
    struct amber_row *r = &t->rows[AMBER_KIND_PID][i];
    if (r->state == AMBER_ROW_LIVE && (r->flags & AMBER_PID_SUPERVISOR)) sup = r->sid;
  }
  if (sup <= 0) return 0;
  const struct amber_ctl *c = &t->ctl;
  for (unsigned k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
    struct stat ours, theirs;
    if (ns_of(sup, kinds[k], &ours)) continue;
    for (uint32_t i = 0; i < c->nslots; i++) {
      if (__atomic_load_n(&c->slots[i].state, __ATOMIC_ACQUIRE) == AMBER_AGENT_EXITED) continue;
      int32_t vpid = c->slots[i].vpid, pid = amber_v2s(t, AMBER_KIND_PID, vpid);
      if (pid <= 0 || ns_of(amber_live_task(pid), kinds[k], &theirs)) continue;
      if (theirs.st_ino == ours.st_ino && theirs.st_dev == ours.st_dev) continue;
      char comm[64];
      amber_process_comm(pid, comm, sizeof comm);
      snprintf(buf, cap,
               "process %d (%s) is in a %s namespace of its own, which Amber cannot save yet (a "
               "restore would bring it back in Amber's own)",
               vpid, comm, kinds[k]);
      return -EOPNOTSUPP;
    }
  }
  return 0;
}
