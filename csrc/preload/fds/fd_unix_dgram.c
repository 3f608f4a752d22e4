/* Bound Unix datagram sockets in two odd states (the rest is fd_socket.c's):
 *  - connected to itself (AMBER_UNIX_SELF): bound again, its unread datagrams sent to it again
 *    from another socket, then connected to itself (once connected it takes datagrams from
 *    itself only);
 *  - bound to a path that was unlinked since (AMBER_UNIX_UNLINKED): bound to the path again so
 *    that its clients in the application can connect to it (fd_socketpair.c's redial), and the
 *    path unlinked once they all have: each says so under AMBER_KEY_UNIX_BOUND, k2 = 1 + its
 *    vpid << 32 | fd. The clients are found at the snapshot by asking sock_diag about every
 *    socket of the application (the coordinator's list) for its peer. */
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "../../common/broker.h"
#include "../agent/agent_share.h"
#include "fd_kinds.h"

static int refuse(const struct amber_fd_rec *rec, const char *why) {
  amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error, "descriptor %d (%s) %s", rec->fd,
            rec->path, why);
  return -1;
}

/* The clients in the application of an unlinked socket, that will connect to it again: the
 * owners of unnamed sockets connected to it (it is connected to none: fd_socketpair.c). */
static int find_clients(struct amber_fd_rec *rec) {
  const struct amber_share *s = &amber.table->share;
  uint64_t own_peer;
  int named, n = 0;
  if (amber_fd_unix_diag_peer(rec->ino, &own_peer, &named) || own_peer) return 0;
  for (uint32_t i = 0; i < s->n; i++) {
    const struct amber_share_fd *e = &s->fds[i];
    if (e->fd < 0 || !S_ISSOCK(e->mode) || e->ino == rec->ino) continue;
    if (e->owner_vpid != e->vpid || e->owner_fd != e->fd) continue; /* another holder */
    uint64_t peer;
    if (amber_fd_unix_diag_peer(e->ino, &peer, &named) || peer != rec->ino || named) continue;
    if (n == AMBER_UNIX_CLIENTS)
      return refuse(rec, "has more clients than Amber can connect again to an unlinked path");
    rec->u[3 + n++] = (uint64_t)(uint32_t)e->vpid << 32 | (uint32_t)e->fd;
  }
  return 0;
}

int amber_fd_unix_dgram_frozen(struct amber_fd_rec *rec) {
  if (rec->domain != AF_UNIX || rec->type != SOCK_DGRAM) return 0;
  rec->u[3] = rec->u[4] = rec->u[5] = 0;
  if (rec->u[1] & AMBER_UNIX_SELF) {
    uint64_t peer;
    int named;
    if (amber_fd_unix_diag_peer(rec->ino, &peer, &named) || peer != rec->ino)
      return refuse(rec, "is connected to another socket bound to its own former name, which "
                         "Amber cannot save yet");
  }
  return rec->u[1] & AMBER_UNIX_UNLINKED ? find_clients(rec) : 0;
}

static void unlink_path(const struct amber_fd_rec *rec) {
  const struct sockaddr_un *sun = (const void *)rec->addr;
  char path[sizeof sun->sun_path + 1];
  size_t n = rec->addr_len - offsetof(struct sockaddr_un, sun_path);
  if (n > sizeof sun->sun_path) n = sizeof sun->sun_path;
  memcpy(path, sun->sun_path, n);
  path[n] = 0;
  amber_sys3(SYS_unlinkat, AT_FDCWD, path, 0);
}

int amber_fd_unix_dgram_bound(const struct amber_fd_rec *rec, int fd) {
  if (rec->u[1] & AMBER_UNIX_SELF) {
    long r = amber_sys3(SYS_connect, fd, rec->addr, rec->addr_len);
    if (r < 0) return (int)r;
  }
  if ((rec->u[1] & AMBER_UNIX_UNLINKED) && !rec->u[3]) unlink_path(rec);
  return 0;
}

void amber_fd_unix_dgram_redialed(const struct amber_fd_rec *rec, int fd) {
  uint64_t k2 = ((uint64_t)(uint32_t)amber.vpid << 32 | (uint32_t)rec->fd) + 1;
  amber_broker_put(amber_key(AMBER_KEY_UNIX_BOUND, rec->peer_ino), k2, fd);
}

int amber_fd_unix_dgram_settle(const struct amber_fd_rec *rec) {
  if (rec->kind != AMBER_FD_SOCKET || rec->domain != AF_UNIX || rec->type != SOCK_DGRAM ||
      !(rec->u[1] & AMBER_UNIX_UNLINKED) || !rec->u[3])
    return 0;
  for (int i = 0; i < AMBER_UNIX_CLIENTS && rec->u[3 + i]; i++) {
    int fd = amber_broker_get(amber_key(AMBER_KEY_UNIX_BOUND, rec->ino), rec->u[3 + i] + 1);
    if (fd < 0) return fd;
    amber_sys1(SYS_close, fd);
  }
  unlink_path(rec);
  return 0;
}
