/* Finding what processes share, while every process of the application is frozen: the same
 * open file description (kcmp(2) says so exactly), the two ends of one pipe or socket pair,
 * and shared memory. The first process in slot order that holds an object owns it: on restore
 * it alone re-creates the object and hands it to the others. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "agent_lines.h"
#include "agent_share.h"
#include "fd_kinds.h"

#define KCMP_FILE 0

static int32_t system_pid_of(int32_t vpid) {
  return vpid == amber.vpid ? amber_sys_getpid() : amber_v2s(amber.table, AMBER_KIND_PID, vpid);
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
    target_of(amber_sys_getpid(), r->fd, mine, sizeof mine);
    if (strcmp(mine, target)) continue;
    if (amber_fd_is_pathless(r) && !r->creator_vpid && same_inode(pid, fd, r->ino))
      r->creator_vpid = vpid, r->creator_fd = fd;
    /* The first descriptor of the description, in slot order then descriptor order, owns it;
     * in this process too, so that a dup comes back a dup. */
    (void)self;
    if (!r->owner_vpid && amber_sys5(SYS_kcmp, amber_sys_getpid(), pid, KCMP_FILE, r->fd, fd) == 0)
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

struct inode_search {
  uint64_t dev, ino; /* dev ~0: any */
  int found;
};

static int inode_line(void *ctx, const char *line) {
  struct inode_search *s = ctx;
  struct amber_maps_line m;
  if (!amber_parse_maps_line(line, &m) && m.shared && m.ino == s->ino &&
      (s->dev == ~0ULL || m.dev == s->dev))
    s->found = 1;
  return s->found;
}

static int process_maps_inode(int32_t vpid, uint64_t dev, uint64_t ino) {
  char path[64];
  struct inode_search s = {dev, ino, 0};
  amber_fmt(path, sizeof path, "/proc/%d/maps", system_pid_of(vpid));
  amber_read_lines(path, inode_line, &s);
  return s.found;
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
