/* Connections waiting in a Unix listener's accept queue whose client is a socket of the
 * application: kept. A waiting connection is a client socket connected to a socket the kernel
 * made for the listener (it has no file until accept(), so sock_diag names no peer for the
 * client); sock_diag lists a listener's waiting clients, in the order accept() takes them
 * (UNIX_DIAG_ICONS).
 *
 * Snapshot, every process frozen (nothing accepts meanwhile): the listener's owner saves the
 * inodes of its waiting clients that a process of the application holds (the coordinator's
 * list), in order; the others (clients outside the application) are named as lost, as before
 * (u[AMBER_SOCK_WAITING]). A client with no peer asks sock_diag which listener holds it
 * waiting (one dump of the listeners), and, if the application holds that listener, says so
 * (peer_where AMBER_PEER_LISTENER, peer_ino the listener).
 *
 * Restore: the listener's owner, once the listener listens again (phase 1), connects a new
 * socket to it for each saved client, in order, so that its queue holds them as before, and
 * offers each under the client's inode; the client's owner takes its socket in phase 2. So
 * the program's accept() finds them in the same order, before it runs.
 *
 * Not kept: bytes a waiting client sent that nobody read yet (they wait in the kernel's socket
 * for the server, which no call reads before accept(): such a snapshot is refused, naming the
 * client), the credentials accept()'s SO_PEERCRED reports (the listener's process made the new
 * connection), and waiting TCP connections (named as lost). */
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "../../common/broker.h"
#include "../agent/agent_share.h"
#include "fd_kinds.h"

#define MAX_WAITING 4096

static uint64_t key_of(uint64_t listener) {
  return amber_key(AMBER_KEY_FD_KIND(AMBER_FD_SOCKET), listener);
}

/* Whether a process of the application holds the socket with this inode. */
int amber_backlog_held(uint64_t ino) {
  const struct amber_share *s = &amber.table->share;
  for (uint32_t i = 0; i < s->n; i++)
    if (s->fds[i].fd >= 0 && S_ISSOCK(s->fds[i].mode) && s->fds[i].ino == ino) return 1;
  return 0;
}

int amber_backlog_client(struct amber_fd_rec *rec, uint32_t unread) {
  uint64_t listener = amber_fd_unix_listener_of(rec->ino); /* one question for all listeners */
  if (!listener || !amber_backlog_held(listener)) return 0;
  if (unread) {
    amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
              "descriptor %d is a Unix socket waiting to be accepted by listener socket:[%ld] "
              "with bytes it sent not read yet, which Amber cannot read before the server "
              "accepts the connection", rec->fd, (long)listener);
    return -1;
  }
  rec->peer_where = AMBER_PEER_LISTENER;
  rec->peer_ino = listener;
  amber_fmt(rec->path, sizeof rec->path,
            "Unix socket waiting to be accepted by listener socket:[%ld]", (long)listener);
  return 0;
}

int amber_backlog_listener(struct amber_fd_rec *rec) {
  static uint32_t clients[MAX_WAITING];
  int n = amber_fd_unix_waiting_clients(rec->ino, clients, MAX_WAITING);
  amber_fd_socketpair_peers_done(); /* its sock_diag socket: not one for the program to keep */
  rec->data = rec->data_len = 0;
  rec->nmsgs = 0;
  if (n <= 0) return 0;
  uint64_t *kept = amber_fd_buffer((uint64_t)n * sizeof *kept);
  if (!kept) {
    amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
              "descriptor %d (%s) has more connections waiting than Amber's buffer holds",
              rec->fd, rec->path);
    return -1;
  }
  /* A listener bound to a path that was unlinked cannot be reached again by its name. */
  const char *name = (const char *)rec->addr + sizeof(sa_family_t);
  int reachable = rec->addr_len > sizeof(sa_family_t) && (!name[0] || rec->u[2]);
  uint32_t count = 0, lost = 0;
  for (int i = 0; i < n; i++) {
    if (reachable && amber_backlog_held(clients[i])) kept[count++] = clients[i];
    else lost++;
  }
  rec->data = (uint64_t)kept;
  rec->data_len = count * sizeof *kept;
  rec->nmsgs = count;
  rec->u[AMBER_SOCK_WAITING] = lost; /* named by the snapshot (src/lost.ts) */
  return 0;
}

int amber_backlog_reconnect(const struct amber_fd_rec *rec, int listener) {
  const uint64_t *clients = (const uint64_t *)rec->data;
  (void)listener; /* the queue is reached through its name, as the clients reached it */
  uint8_t to[sizeof rec->addr];
  memcpy(to, rec->addr, sizeof to);
  int unix_socket = rec->domain == AF_UNIX;
  if (!unix_socket) amber_tcp_backlog_address(to); /* loopback for a wildcard listener */
  for (uint32_t i = 0; i < rec->nmsgs; i++) {
    /* A Unix connect to a full queue would wait: refused instead (EAGAIN); a TCP one on
     * loopback is made at once. */
    int fd = (int)amber_sys3(SYS_socket, rec->domain,
                             rec->type | SOCK_CLOEXEC | (unix_socket ? SOCK_NONBLOCK : 0),
                             rec->protocol);
    if (fd < 0) return fd;
    long err = amber_sys3(SYS_connect, fd, to, rec->addr_len);
    if (!err) err = amber_sys3(SYS_fcntl, fd, F_SETFL, 0);
    if (!err) err = amber_broker_put(key_of(rec->ino), clients[i], fd);
    amber_sys1(SYS_close, fd);
    if (err < 0) return (int)err;
  }
  return 0;
}

int amber_backlog_take(struct amber_fd_rec *rec, int floor) {
  int fd = amber_fd_park(amber_broker_get(key_of(rec->peer_ino), rec->ino), floor);
  if (fd < 0) return fd;
  if (rec->sndbuf > 0) {
    int half = rec->sndbuf / 2; /* SO_SNDBUF reads back twice what was set */
    amber_sys5(SYS_setsockopt, fd, SOL_SOCKET, SO_SNDBUF, &half, sizeof half);
  }
  if (rec->passcred) {
    int on = 1;
    amber_sys5(SYS_setsockopt, fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
  }
  if (rec->shutdown & 1) amber_sys2(SYS_shutdown, fd, SHUT_RD);
  if (rec->shutdown & 2) amber_sys2(SYS_shutdown, fd, SHUT_WR);
  return amber_fd_place(fd, rec);
}
