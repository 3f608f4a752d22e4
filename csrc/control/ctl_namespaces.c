/* Namespaces and root directories. Amber makes none: a restore brings every process back in
 * the namespaces of the restoring supervisor, under its root directory. A process of the
 * application in namespaces of its own (unshare -Urn, a sandbox, a container runtime) would come
 * back in the supervisor's without a word: uid 0 in its user namespace becomes the real user, a
 * process cut off from the network has it, its private mounts are gone. One that had shut
 * itself in a directory with chroot (haproxy's chroot, unbound, bind -t, vsftpd) would come back
 * seeing the whole file system, its paths naming other files. The coordinator compares each
 * process's namespaces and root with the supervisor's, and refuses the snapshot, naming the
 * process and what differs. A kind the kernel does not have (time before 5.6) is not compared;
 * a process the coordinator may not look at was refused by the share scan already. The time
 * namespace is compared among the processes only: a restore may have put them in one of their
 * own (restorer/clocks.c), whose only state, the clocks it shows, each process file records. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/table.h"
#include "clone_share.h"
#include "control.h"

#define API __attribute__((visibility("default")))

/* "root" last: the process's root directory, beside its namespaces. */
static const char *const kinds[] = {"user", "net", "mnt", "pid", "ipc", "uts", "cgroup", "time",
                                    "root"};

static int ns_of(int pid, const char *kind, struct stat *st) {
  char path[64];
  if (kind[0] == 'r') snprintf(path, sizeof path, "/proc/%d/root", pid);
  else snprintf(path, sizeof path, "/proc/%d/ns/%s", pid, kind);
  return stat(path, st);
}

static void refusal(int pid, int32_t vpid, const char *kind, char *buf, int cap) {
  char comm[64];
  amber_process_comm(pid, comm, sizeof comm);
  if (kind[0] != 'r') {
    snprintf(buf, cap,
             "process %d (%s) is in a %s namespace of its own, which Amber cannot save yet (a "
             "restore would bring it back in Amber's own)",
             vpid, comm, kind);
    return;
  }
  char link[64], root[4096];
  snprintf(link, sizeof link, "/proc/%d/root", pid);
  ssize_t n = readlink(link, root, sizeof root - 1);
  root[n > 0 ? n : 0] = 0;
  snprintf(buf, cap,
           "process %d (%s) has shut itself in %s (chroot), which Amber cannot save yet (a "
           "restore would bring it back seeing the whole file system)",
           vpid, comm, n > 0 ? root : "a directory of its own");
}

/* The application's first live process, by system pid: the one the others' time namespace is
 * compared with. */
static int first_process(struct amber_table *t) {
  for (uint32_t i = 0; i < t->high[AMBER_KIND_PID]; i++) {
    struct amber_row *r = &t->rows[AMBER_KIND_PID][i];
    int32_t pid = __atomic_load_n(&r->sid, __ATOMIC_ACQUIRE);
    if (__atomic_load_n(&r->state, __ATOMIC_ACQUIRE) == AMBER_ROW_LIVE &&
        (r->flags & AMBER_PID_PROCESS) && !(r->flags & AMBER_PID_SUPERVISOR) && pid > 0)
      return amber_live_task(pid);
  }
  return -1;
}

/* Every process of the application, from its rows: before the freeze (amber_ctl_places, so
 * that a process whose /proc is out of its reach is named for this, not for a failed listing)
 * and in the share scan, for one made meanwhile. */
int amber_share_namespaces(struct amber_table *t, char *buf, int cap) {
  int32_t sup = -1;
  for (uint32_t i = 0; i < t->high[AMBER_KIND_PID]; i++) {
    struct amber_row *r = &t->rows[AMBER_KIND_PID][i];
    if (r->state == AMBER_ROW_LIVE && (r->flags & AMBER_PID_SUPERVISOR)) sup = r->sid;
  }
  if (sup <= 0) return 0;
  for (unsigned k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
    struct stat ours, theirs;
    int reference = strcmp(kinds[k], "time") ? sup : first_process(t);
    if (reference <= 0 || ns_of(reference, kinds[k], &ours)) continue;
    for (uint32_t i = 0; i < t->high[AMBER_KIND_PID]; i++) {
      struct amber_row *r = &t->rows[AMBER_KIND_PID][i];
      int32_t vpid = r->vid, pid = __atomic_load_n(&r->sid, __ATOMIC_ACQUIRE);
      if (__atomic_load_n(&r->state, __ATOMIC_ACQUIRE) != AMBER_ROW_LIVE ||
          !(r->flags & AMBER_PID_PROCESS) || (r->flags & AMBER_PID_SUPERVISOR) || pid <= 0 ||
          ns_of(amber_live_task(pid), kinds[k], &theirs))
        continue;
      if (theirs.st_ino == ours.st_ino && theirs.st_dev == ours.st_dev) continue;
      refusal(pid, vpid, kinds[k], buf, cap);
      return -EOPNOTSUPP;
    }
  }
  return 0;
}

API int32_t amber_ctl_places(void *table, char *buf, int32_t cap) {
  return amber_share_namespaces(table, buf, cap);
}
