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
 * (peer_where AMBER_PEER_LISTENER, peer_ino the listener) and where it waits in the queue
 * (u[CLIENT_POSITION], 1 the first).
 *
 * Restore: the kernel gives the accepted socket the credentials of the process that called
 * connect() (SO_PEERCRED: its pid, uid and gid), so the client's own process connects again.
 * The listener's owner, once the listener listens again (phase 1), offers it and its working
 * directory (the name may be relative to it); each client's owner, in phase 2, connects its
 * clients of that listener in their order (it runs as its saved user and group already:
 * restorer/identity.c), so that the program's accept() finds them as before, before it runs.
 * Waiting TCP connections (tcp_backlog.c; no credentials) are connected by the listener's
 * owner.
 *
 * Not kept: bytes a waiting client sent that nobody read yet (they wait in the kernel's socket
 * for the server, which no call reads before accept(): such a snapshot is refused, naming the
 * client), and the order between clients of different processes (each process's come back
 * in order, one process's after another's). */
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "../../common/broker.h"
#include "../agent/agent_share.h"
#include "fd_kinds.h"

#define MAX_WAITING 4096
#define CLIENT_POSITION 4           /* a waiting client's u[] slot: its place in the queue + 1 */
#define LISTENING (1ULL << 40)      /* k2 above any inode: the listener, listening again */
#define LISTENER_CWD (LISTENING + 1) /* k2: its owner's working directory */

static uint32_t waiting[MAX_WAITING];

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
  int n = amber_fd_unix_waiting_clients(listener, waiting, MAX_WAITING);
  for (int i = 0; i < n; i++)
    if (waiting[i] == rec->ino) rec->u[CLIENT_POSITION] = (uint64_t)i + 1;
  amber_fmt(rec->path, sizeof rec->path,
            "Unix socket waiting to be accepted by listener socket:[%ld]", (long)listener);
  return 0;
}

int amber_backlog_listener(struct amber_fd_rec *rec) {
  uint32_t *clients = waiting;
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
    int held = amber_backlog_held(clients[i]);
    /* Its client, a process of the application, would wait at the restore for a listener that
     * no name reaches: refused here rather than a restore that cannot finish. */
    if (held && !reachable) {
      amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
                "descriptor %d (%s) has a connection waiting to be accepted from a process of "
                "the application, and its path was unlinked, so Amber cannot connect it again",
                rec->fd, rec->path);
      return -1;
    }
    if (held) kept[count++] = clients[i];
    else lost++;
  }
  rec->data = (uint64_t)kept;
  rec->data_len = count * sizeof *kept;
  rec->nmsgs = count;
  rec->u[AMBER_SOCK_WAITING] = lost; /* named by the snapshot (src/lost.ts) */
  return 0;
}

/* A new socket of the listener's type connected to `to`, or -errno. A Unix connect to a full
 * queue would wait: refused instead (EAGAIN); a TCP one on loopback is made at once. */
static int connected(int domain, int type, int protocol, const void *to, uint32_t len) {
  int fd = (int)amber_sys3(SYS_socket, domain,
                           type | SOCK_CLOEXEC | (domain == AF_UNIX ? SOCK_NONBLOCK : 0), protocol);
  if (fd < 0) return fd;
  long err = amber_sys3(SYS_connect, fd, to, len);
  if (!err) err = amber_sys3(SYS_fcntl, fd, F_SETFL, 0);
  if (!err) return fd;
  amber_sys1(SYS_close, fd);
  return (int)err;
}

/* Phase 1, the listener's owner: a Unix listener is offered, with this process's working
 * directory, to its clients' owners; a TCP one's clients are connected here. */
int amber_backlog_reconnect(const struct amber_fd_rec *rec, int listener) {
  if (rec->domain == AF_UNIX) {
    int cwd = (int)amber_sys3(SYS_open, ".", O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
    if (cwd < 0) return cwd;
    int err = amber_broker_put(key_of(rec->ino), LISTENER_CWD, cwd);
    amber_sys1(SYS_close, cwd);
    return err ? err : amber_broker_put(key_of(rec->ino), LISTENING, listener);
  }
  const uint64_t *clients = (const uint64_t *)rec->data;
  uint8_t to[sizeof rec->addr];
  memcpy(to, rec->addr, sizeof to);
  amber_tcp_backlog_address(to); /* loopback for a wildcard listener */
  for (uint32_t i = 0; i < rec->nmsgs; i++) {
    int fd = connected(rec->domain, rec->type, rec->protocol, to, rec->addr_len);
    if (fd < 0) return fd;
    int err = amber_broker_put(key_of(rec->ino), clients[i], fd);
    amber_sys1(SYS_close, fd);
    if (err < 0) return err;
  }
  return 0;
}

/* The next of this process's clients of the listener to connect, in queue order, or 0. */
static struct amber_fd_rec *next_client(uint64_t listener) {
  struct amber_fd_rec *next = 0;
  for (int i = 0; i < amber_ckpt.nfds; i++) {
    struct amber_fd_rec *r = &amber_ckpt.fds[i];
    if (r->peer_where == AMBER_PEER_LISTENER && r->peer_ino == listener &&
        r->domain == AF_UNIX && r->u[CLIENT_POSITION] && amber_fd_owned(r) &&
        (!next || r->u[CLIENT_POSITION] < next->u[CLIENT_POSITION]))
      next = r;
  }
  return next;
}

/* Phase 2, a Unix client's owner: connects all its clients of that listener, in their order,
 * from the listener owner's working directory, and offers each to itself under its inode. */
static int connect_own(const struct amber_fd_rec *rec) {
  uint64_t key = key_of(rec->peer_ino);
  int listener = amber_broker_get(key, LISTENING);
  if (listener < 0) return listener;
  struct sockaddr_un to;
  socklen_t len = sizeof to;
  long err = amber_sys3(SYS_getsockname, listener, &to, &len);
  amber_sys1(SYS_close, listener);
  if (err) return (int)err;
  int there = amber_broker_get(key, LISTENER_CWD);
  if (there < 0) return there;
  int here = (int)amber_sys3(SYS_open, ".", O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
  if (here < 0) err = here;
  if (!err) err = amber_sys1(SYS_fchdir, there);
  for (struct amber_fd_rec *r; !err && (r = next_client(rec->peer_ino));) {
    r->u[CLIENT_POSITION] = 0; /* connected */
    int fd = connected(AF_UNIX, r->type, r->protocol, &to, len);
    if (fd < 0) err = fd;
    else err = amber_broker_put(key, r->ino, fd);
    if (fd >= 0) amber_sys1(SYS_close, fd);
  }
  if (here >= 0) amber_sys1(SYS_fchdir, here);
  if (here >= 0) amber_sys1(SYS_close, here);
  amber_sys1(SYS_close, there);
  return (int)err;
}

int amber_backlog_take(struct amber_fd_rec *rec, int floor) {
  if (rec->domain == AF_UNIX && rec->u[CLIENT_POSITION]) {
    int err = connect_own(rec);
    if (err) return err;
  }
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
