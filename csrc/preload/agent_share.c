/* Finding what processes share, while every process of the application is frozen: the same
 * open file description (kcmp(2) says so exactly), the two ends of one pipe or socket pair,
 * and shared memory. The first process in slot order that holds an object owns it: on restore
 * it alone re-creates the object and hands it to the others. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "agent_share.h"
#include "fd_kinds.h"

#define KCMP_FILE 0

/* Whether the main thread of process pid has exited (pthread_exit) while others run on. */
static int main_thread_gone(int32_t pid) {
  char path[64];
  amber_fmt(path, sizeof path, "/proc/%d/stat", pid);
  return amber_proc_state(path) == 'Z';
}

/* Where to look at a process: its system pid, or, when its main thread is gone, one of its
 * live threads (/proc/<pid>/fd and maps, and kcmp, see nothing through a gone main thread;
 * /proc/<tid>/... and kcmp of a TID see the process's). */
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

static void target_of(int pid, int fd, char *out, int cap) {
  char link[64];
  amber_fmt(link, sizeof link, "/proc/%d/fd/%d", pid, fd);
  long n = amber_sys4(SYS_readlinkat, AT_FDCWD, link, out, cap - 1);
  out[n > 0 ? n : 0] = 0;
}

static int is_read_end(int pid, int fd) {
  static char info[512];
  char path[64];
  amber_fmt(path, sizeof path, "/proc/%d/fdinfo/%d", pid, fd);
  if (amber_read_file(path, info, sizeof info) <= 0) return 0;
  const char *p = strstr(info, "flags:");
  if (!p) return 0;
  p += 6;
  while (*p == ' ' || *p == '\t') p++;
  uint64_t flags = 0;
  for (; *p >= '0' && *p <= '7'; p++) flags = flags * 8 + (*p - '0');
  return (flags & O_ACCMODE) == O_RDONLY;
}

/* Calls visit(fd, target) for every descriptor of process pid, in ascending order. */
static void for_each_fd(int pid, void (*visit)(int32_t vpid, int pid, int fd, const char *target),
                        int32_t vpid) {
  static int32_t fds[AMBER_MAX_FDS * 2];
  char dir_path[64];
  amber_fmt(dir_path, sizeof dir_path, "/proc/%d/fd", pid);
  int n = amber_list_numbers(dir_path, fds, AMBER_MAX_FDS * 2);
  for (int i = 0; i < n; i++) {
    char target[256];
    target_of(pid, fds[i], target, sizeof target);
    visit(vpid, pid, fds[i], target);
  }
}

/* Names can repeat (two memfds called alike): the inode tells files apart. */
static int same_inode(int pid, int fd, uint64_t ino) {
  char link[64];
  struct stat st;
  amber_fmt(link, sizeof link, "/proc/%d/fd/%d", pid, fd);
  return amber_sys4(SYS_newfstatat, AT_FDCWD, link, &st, 0) == 0 && st.st_ino == ino;
}

static void visit_fd(int32_t vpid, int pid, int fd, const char *target) {
  int self = vpid == amber.vpid;
  for (int i = 0; i < amber_ckpt.nfds; i++) {
    struct amber_fd_rec *r = &amber_ckpt.fds[i];
    if (r->kind == AMBER_FD_STDIO) continue;
    if (r->kind == AMBER_FD_SOCKET && r->socket_kind == AMBER_SOCK_PAIR &&
        r->peer_where == AMBER_PEER_OUTSIDE && (!r->one_way || amber_fd_socketpair_redials(r))) {
      /* the application holds the peer */
      char peer[48];
      amber_fmt(peer, sizeof peer, "socket:[%ld]", (long)r->peer_ino);
      if (!strcmp(peer, target)) r->peer_where = AMBER_PEER_INSIDE;
    }
    char mine[256];
    target_of(amber_sys_gettid(), r->fd, mine, sizeof mine);
    if (strcmp(mine, target)) continue;
    if (amber_fd_is_pathless(r) && !r->creator_vpid && same_inode(pid, fd, r->ino))
      r->creator_vpid = vpid, r->creator_fd = fd;
    /* The first descriptor of the description, in slot order then descriptor order, owns it;
     * in this process too, so that a dup comes back a dup. */
    (void)self;
    if (!r->owner_vpid && amber_sys5(SYS_kcmp, amber_sys_gettid(), pid, KCMP_FILE, r->fd, fd) == 0)
      r->owner_vpid = vpid, r->owner_fd = fd;
    if (r->kind == AMBER_FD_PIPE && !r->creator_vpid && is_read_end(pid, fd))
      r->creator_vpid = vpid, r->creator_fd = fd;
  }
}

void amber_share_scan_fds(void) {
  for (int i = 0; i < amber_ckpt.nfds; i++) {
    amber_ckpt.fds[i].owner_vpid = amber_ckpt.fds[i].owner_fd = 0;
    amber_ckpt.fds[i].creator_vpid = amber_ckpt.fds[i].creator_fd = 0;
  }
  struct amber_ctl *c = &amber.table->ctl;
  for (uint32_t j = 0; j < c->nslots; j++) {
    int32_t pid = system_pid_of(c->slots[j].vpid);
    if (pid > 0) for_each_fd(pid, visit_fd, c->slots[j].vpid);
  }
  for (int i = 0; i < amber_ckpt.nfds; i++) /* not found anywhere, not even here: it is ours */
    if (!amber_ckpt.fds[i].owner_vpid)
      amber_ckpt.fds[i].owner_vpid = amber.vpid, amber_ckpt.fds[i].owner_fd = amber_ckpt.fds[i].fd;
}

static int maps_share_inode(const char *maps, uint64_t ino) {
  for (const char *line = maps; *line;) {
    /* start-end perms offset dev inode path */
    const char *p = line;
    int field = 0;
    int shared = 0;
    uint64_t inode = 0;
    while (*p && *p != '\n' && field < 5) {
      while (*p == ' ') p++;
      if (field == 1) shared = p[3] == 's';
      if (field == 4) amber_parse_u64(&p, &inode, 10);
      while (*p && *p != ' ' && *p != '\n') p++;
      field++;
    }
    if (shared && inode == ino) return 1;
    while (*line && *line != '\n') line++;
    if (*line) line++;
  }
  return 0;
}

static int process_maps_inode(int32_t vpid, uint64_t ino) {
  static char maps[1 << 18];
  char path[64];
  amber_fmt(path, sizeof path, "/proc/%d/maps", system_pid_of(vpid));
  return amber_read_file(path, maps, sizeof maps) > 0 && maps_share_inode(maps, ino);
}

int32_t amber_share_region_owner(uint64_t ino) {
  struct amber_ctl *c = &amber.table->ctl;
  for (uint32_t j = 0; j < c->nslots; j++) {
    if (c->slots[j].vpid == amber.vpid) return amber.vpid;
    if (process_maps_inode(c->slots[j].vpid, ino)) return c->slots[j].vpid;
  }
  return amber.vpid;
}

int amber_share_inode_mapped(uint64_t ino) {
  struct amber_ctl *c = &amber.table->ctl;
  for (uint32_t j = 0; j < c->nslots; j++)
    if (c->slots[j].vpid && process_maps_inode(c->slots[j].vpid, ino)) return 1;
  return 0;
}

void amber_share_tree(int32_t *ppid, int32_t *pgid, int32_t *sid) {
  struct amber_table *t = amber.table;
  *ppid = amber_s2v(t, AMBER_KIND_PID, amber_sys_getppid());
  *pgid = amber_s2v(t, AMBER_KIND_PID, (int32_t)amber_sys1(SYS_getpgid, 0));
  *sid = amber_s2v(t, AMBER_KIND_PID, (int32_t)amber_sys1(SYS_getsid, 0));
}
