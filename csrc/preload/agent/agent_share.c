/* Finding what processes share, while every process of the application is frozen: the same
 * open file description, the two ends of one pipe or socket pair, and shared memory. The
 * coordinator has listed every process's descriptors and shared mappings, and which
 * descriptors are one description (kcmp), into the tables (control/ctl_share.c): a process
 * that changed user may not look at the others itself. The first process in slot order that
 * holds an object owns it: on restore it alone re-creates the object and hands it to the
 * others. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "agent_lines.h"
#include "agent_share.h"
#include "../fds/fd_kinds.h"

/* Whether the main thread of process pid has exited (pthread_exit) while others run on. */
static int main_thread_gone(int32_t pid) {
  char path[64];
  amber_fmt(path, sizeof path, "/proc/%d/stat", pid);
  return amber_proc_state(path) == 'Z';
}

/* Where to look at a process: its system pid, or, when its main thread is gone, one of its
 * live threads (/proc/<pid>/fd and maps see nothing through a gone main thread). */
static int32_t system_pid_of(int32_t vpid) {
  if (vpid == amber.vpid) return amber_sys_gettid(); /* the leader: a live thread */
  int32_t pid = amber_v2s(amber.table, AMBER_KIND_PID, vpid);
  if (pid <= 0 || !main_thread_gone(pid)) return pid;
  static int32_t tids[AMBER_MAX_THREADS];
  char dir[64];
  amber_fmt(dir, sizeof dir, "/proc/%d/task", pid);
  int n = amber_list_numbers(dir, tids, AMBER_MAX_THREADS);
  for (int i = 0; i < n; i++)
    if (tids[i] != pid) return tids[i];
  return pid;
}

static const struct amber_share_fd *entry_of(int32_t vpid, int32_t fd) {
  const struct amber_share *s = &amber.table->share;
  for (uint32_t i = 0; i < s->n; i++)
    if (s->fds[i].vpid == vpid && s->fds[i].fd == fd) return &s->fds[i];
  return 0;
}

static void scan_one(struct amber_fd_rec *r) {
  const struct amber_share *s = &amber.table->share;
  const struct amber_share_fd *me = entry_of(amber.vpid, r->fd);
  if (me) r->owner_vpid = me->owner_vpid, r->owner_fd = me->owner_fd;
  const struct amber_fd_ops *ops = amber_fd_ops_of(r);
  const struct amber_share_fd *first_holder = 0;
  for (uint32_t i = 0; i < s->n; i++) {
    const struct amber_share_fd *e = &s->fds[i];
    if (e->fd < 0) continue;
    if (r->kind == AMBER_FD_SOCKET && r->socket_kind == AMBER_SOCK_PAIR &&
        r->peer_where == AMBER_PEER_OUTSIDE && (!r->one_way || amber_fd_socketpair_redials(r)) &&
        S_ISSOCK(e->mode) && e->ino == r->peer_ino)
      r->peer_where = AMBER_PEER_INSIDE; /* the application holds the peer */
    if (!me || e->dev != me->dev || e->ino != me->ino) continue;
    if (!ops || !ops->may_create) continue;
    if (!r->creator_vpid && ops->may_create(r, e)) r->creator_vpid = e->vpid, r->creator_fd = e->fd;
    if (!first_holder) first_holder = e;
  }
  /* No holder the kind prefers (a pipe nobody in the application reads): its first holder. */
  if (!r->creator_vpid && first_holder)
    r->creator_vpid = first_holder->vpid, r->creator_fd = first_holder->fd;
}

int amber_share_scan_fds(void) {
  if (!__atomic_load_n(&amber.table->share.ready, __ATOMIC_ACQUIRE)) {
    amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
              "the coordinator did not list what the processes share");
    return -1;
  }
  for (int i = 0; i < amber_ckpt.nfds; i++) {
    struct amber_fd_rec *r = &amber_ckpt.fds[i];
    const struct amber_share_fd *me = entry_of(amber.vpid, r->fd);
    /* Only the launcher's own descriptions are reattached to the restoring command's streams,
     * and not input read from a file (amber run PROG < FILE): that stays the file, at its
     * offset. */
    int file_input = me && S_ISREG(me->mode) && (r->flags & O_ACCMODE) == O_RDONLY;
    if (r->kind == AMBER_FD_STDIO && me && (me->std_stream == 0 || file_input) &&
        amber_fd_capture_not_stdio(r))
      return -1;
  }
  for (int i = 0; i < amber_ckpt.nfds; i++) {
    struct amber_fd_rec *r = &amber_ckpt.fds[i];
    r->owner_vpid = r->owner_fd = r->creator_vpid = r->creator_fd = 0;
    if (r->kind != AMBER_FD_STDIO) scan_one(r);
    if (!r->owner_vpid) r->owner_vpid = amber.vpid, r->owner_fd = r->fd; /* not listed: ours */
  }
  return 0;
}

/* dev ~0: any device. Shared mappings are listed with their device as /proc/<pid>/maps gives it
 * (major << 8 | minor): a deleted file's inode number may be a memfd's. */
static int process_maps_inode(int32_t vpid, uint64_t dev, uint64_t ino) {
  const struct amber_share *s = &amber.table->share;
  for (uint32_t i = 0; i < s->n; i++) {
    const struct amber_share_fd *e = &s->fds[i];
    if (e->fd < 0 && e->vpid == vpid && e->ino == ino && (dev == ~0ULL || e->dev == dev)) return 1;
  }
  return 0;
}

int32_t amber_share_system_pid(int32_t vpid) {
  return system_pid_of(vpid);
}

int32_t amber_share_region_owner(uint64_t dev, uint64_t ino) {
  struct amber_ctl *c = &amber.table->ctl;
  for (uint32_t j = 0; j < c->nslots; j++) {
    if (c->slots[j].vpid == amber.vpid) return amber.vpid;
    if (process_maps_inode(c->slots[j].vpid, dev, ino)) return c->slots[j].vpid;
  }
  return amber.vpid;
}

int amber_share_inode_mapped(uint64_t ino) {
  struct amber_ctl *c = &amber.table->ctl;
  for (uint32_t j = 0; j < c->nslots; j++)
    if (c->slots[j].vpid && process_maps_inode(c->slots[j].vpid, ~0ULL, ino)) return 1;
  return 0;
}

void amber_share_tree(int32_t *ppid, int32_t *pgid, int32_t *sid) {
  struct amber_table *t = amber.table;
  *ppid = amber_s2v(t, AMBER_KIND_PID, amber_sys_getppid());
  *pgid = amber_s2v(t, AMBER_KIND_PID, (int32_t)amber_sys1(SYS_getpgid, 0));
  *sid = amber_s2v(t, AMBER_KIND_PID, (int32_t)amber_sys1(SYS_getsid, 0));
}
