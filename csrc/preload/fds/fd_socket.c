/* Sockets. What a restored program finds on each descriptor:
 *  - a listening TCP or Unix stream (or seqpacket) socket: bound to the same address and
 *    listening again, with its options; connections the program had not accepted yet are kept
 *    when their clients are in the application (unix_backlog.c, tcp_backlog.c), else not
 *    (their clients see the original's end reset them), and the snapshot names them;
 *  - a TCP socket with a peer (connected, connecting or closing): reset, as the peer of a
 *    restarted server would see it: the next read gives ECONNRESET (then 0), the next write
 *    ECONNRESET (then EPIPE). It is a real reset connection, made on loopback at restore;
 *  - a UDP socket: created again, bound again if it was bound and connected again if it was
 *    (UDP keeps no connection state, so only datagrams not read yet are lost);
 *  - a Unix datagram socket bound to a path or an abstract name: bound again, with the
 *    datagrams it had not read yet (their senders' addresses are not kept);
 *  - a TCP or Unix socket neither bound nor connected: created fresh;
 *  - a connected Unix socket (a socketpair's end, an accepted or connecting Unix socket):
 *    with its peer, its unread bytes and its shutdown state when the peer is in the
 *    application too; reset when the peer is outside it (fd_socketpair.c).
 * Everything else (netlink, raw, packet...) makes the snapshot
 * fail with a message naming it.
 *
 * Record use: domain, type, protocol, socket_kind, backlog, reuseaddr; addr/addr_len the local
 * address; ino the socket's inode. A dup, here or in another process, is another holder of the
 * same description: agent_fds.c hands it the owner's socket.
 * u[0]: the peer's address length, the address itself at addr + PEER_OFF (connected UDP);
 * u[1]: OPT_* bits (AMBER_UNIX_* for a Unix one); u[2]: a Unix socket file's mode + 1 (0: not
 * known), an IP socket's buffer sizes (socket_options.c); u[AMBER_SOCK_WAITING] a TCP listener's connections waiting to be accepted. An IP
 * socket's other options are in sockopt[] (socket_options.c). */
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "../../common/errno_name.h"
#include "../../common/broker.h"
#include "../agent/agent_share.h"
#include "fd_kinds.h"
#include "../vne/net_vne.h"

/* Not in enum amber_socket_kind yet: a socket that is bound (and, for UDP, maybe connected)
 * but neither listening nor a TCP connection. */

#define PEER_OFF AMBER_SOCK_PEER_OFF
#define WINDOW_OFF AMBER_SOCK_WINDOW_OFF

#define OPT_REUSEPORT 0x1
#define OPT_KEEPALIVE 0x2
#define OPT_NODELAY 0x4
#define OPT_V6ONLY 0x8
#define OPT_BROADCAST 0x10

static int get_int(int fd, int level, int name, int32_t *out) {
  int v = 0;
  socklen_t len = sizeof v;
  long r = amber_sys5(SYS_getsockopt, fd, level, name, &v, &len);
  if (r < 0) return (int)r;
  *out = v;
  return 0;
}

static long set_int(int fd, int level, int name, int v) {
  return amber_sys5(SYS_setsockopt, fd, level, name, &v, sizeof v);
}

static int refuse(const struct amber_fd_rec *rec, const char *what) {
  amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
            "descriptor %d is %s, which Amber cannot save yet", rec->fd, what);
  return -1;
}

static int inet_port(const struct amber_fd_rec *rec) {
  if (rec->domain == AF_INET && rec->addr_len >= sizeof(struct sockaddr_in))
    return ((const struct sockaddr_in *)rec->addr)->sin_port;
  if (rec->domain == AF_INET6 && rec->addr_len >= sizeof(struct sockaddr_in6))
    return ((const struct sockaddr_in6 *)rec->addr)->sin6_port;
  return 0;
}

/* The NUL-terminated path of a Unix socket bound to a file, or "" (unnamed or abstract). */
static void unix_path(const struct amber_fd_rec *rec, char *out, size_t cap) {
  const struct sockaddr_un *sun = (const void *)rec->addr;
  size_t off = offsetof(struct sockaddr_un, sun_path);
  size_t n = rec->addr_len > off ? rec->addr_len - off : 0;
  if (n == 0 || sun->sun_path[0] == 0) n = 0;
  if (n > cap - 1) n = cap - 1;
  memcpy(out, sun->sun_path, n);
  out[n] = 0;
}

/* A Unix socket file's mode + 1, or 0 (no file, or not a socket). */
static uint64_t socket_file_mode(const char *path) {
  struct stat st;
  if (path[0] && amber_sys4(SYS_newfstatat, AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
      S_ISSOCK(st.st_mode))
    return (st.st_mode & 07777) + 1;
  return 0;
}

int amber_fd_unix_has_queue(const struct amber_fd_rec *rec) {
  return rec->kind == AMBER_FD_SOCKET && rec->domain == AF_UNIX &&
         (rec->socket_kind == AMBER_SOCK_PAIR ||
          (rec->socket_kind == AMBER_SOCK_BOUND && rec->type == SOCK_DGRAM));
}

static int capture_unix(struct amber_fd_rec *rec, int listening, const uint8_t *peer,
                        socklen_t peer_len) {
  int connected = peer_len > 0;
  /* A datagram socket connected to itself is a bound one that connects again (fd_unix_dgram.c). */
  if (connected && rec->type == SOCK_DGRAM && rec->addr_len > sizeof(sa_family_t) &&
      peer_len == rec->addr_len && !memcmp(peer, rec->addr, peer_len) && !rec->u[0]) {
    rec->u[1] |= AMBER_UNIX_SELF;
    connected = 0;
  }
  if (rec->type != SOCK_STREAM && rec->type != SOCK_SEQPACKET && rec->type != SOCK_DGRAM)
    return refuse(rec, "a Unix socket of an unusual type");
  amber_socket_unix_capture(rec);
  if (listening) {
    rec->socket_kind = AMBER_SOCK_LISTEN;
    rec->backlog = SOMAXCONN; /* the real one is not visible without sock_diag */
    char path[sizeof rec->path];
    unix_path(rec, path, sizeof path);
    rec->u[2] = socket_file_mode(path);
    amber_fmt(rec->path, sizeof rec->path, "listening Unix socket %s", path[0] ? path : "(abstract)");
    return 0;
  }
  if (connected) {
    /* Its peer and unread bytes are saved once every process is frozen (fd_socketpair.c). */
    rec->socket_kind = AMBER_SOCK_PAIR;
    amber_fmt(rec->path, sizeof rec->path, "connected Unix socket");
    return 0;
  }
  char path[sizeof rec->path];
  unix_path(rec, path, sizeof path);
  if (rec->addr_len > sizeof(sa_family_t)) { /* a bound datagram socket; its queue comes later */
    rec->socket_kind = AMBER_SOCK_BOUND;
    rec->u[2] = socket_file_mode(path);
    struct stat st;
    if (path[0] && amber_sys4(SYS_newfstatat, AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) == -ENOENT)
      rec->u[1] |= AMBER_UNIX_UNLINKED;
    amber_fmt(rec->path, sizeof rec->path, "bound Unix datagram socket %s%s%s",
              path[0] ? path : "(abstract)",
              rec->u[1] & AMBER_UNIX_UNLINKED ? " (unlinked)" : "",
              rec->u[1] & AMBER_UNIX_SELF ? ", connected to itself" : "");
    return 0;
  }
  rec->socket_kind = AMBER_SOCK_UNBOUND;
  amber_fmt(rec->path, sizeof rec->path, "unbound Unix socket");
  return 0;
}

static int capture_inet(struct amber_fd_rec *rec, int listening, const uint8_t *peer,
                        socklen_t peer_len) {
  int fd = rec->fd;
  int32_t v = 0;
  amber_socket_options_capture(rec);
  if (!get_int(fd, SOL_SOCKET, SO_REUSEPORT, &v) && v) rec->u[1] |= OPT_REUSEPORT;
  if (!get_int(fd, SOL_SOCKET, SO_KEEPALIVE, &v) && v) rec->u[1] |= OPT_KEEPALIVE;
  if (rec->domain == AF_INET6 && !get_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v) && v)
    rec->u[1] |= OPT_V6ONLY;
  const char *family = rec->domain == AF_INET ? "IPv4" : "IPv6";
  if (rec->type == SOCK_STREAM && rec->protocol == IPPROTO_TCP) {
    if (!get_int(fd, IPPROTO_TCP, TCP_NODELAY, &v) && v) rec->u[1] |= OPT_NODELAY;
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    memset(&ti, 0, sizeof ti);
    int state = amber_sys5(SYS_getsockopt, fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0
                    ? ti.tcpi_state
                    : (listening ? TCP_LISTEN : peer_len ? TCP_ESTABLISHED : TCP_CLOSE);
    if (listening || state == TCP_LISTEN) {
      rec->socket_kind = AMBER_SOCK_LISTEN;
      /* For a listener, tcp_info's tcpi_sacked is the backlog given to listen(). */
      rec->backlog = state == TCP_LISTEN && ti.tcpi_sacked > 0 ? (int32_t)ti.tcpi_sacked : SOMAXCONN;
      /* and tcpi_unacked the connections waiting to be accepted: not saved (their peers are
       * outside; the original's end resets them), but named by the snapshot */
      if (state == TCP_LISTEN) rec->u[AMBER_SOCK_WAITING] = ti.tcpi_unacked;
      amber_fmt(rec->path, sizeof rec->path, "listening TCP %s socket, port %d", family,
                (int)__builtin_bswap16((uint16_t)inet_port(rec)));
    } else if (peer_len || state != TCP_CLOSE) {
      rec->socket_kind = AMBER_SOCK_RESET;
      /* If the original ends after the snapshot, this connection may linger in TIME_WAIT on
       * a listener's port, and a TIME_WAIT entry blocks bind() unless both it and the new
       * socket have SO_REUSEADDR: it takes the flag from here. A connected socket uses the
       * flag for nothing else, so the running program does not notice. */
      if (!rec->reuseaddr) set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
      /* The peer, to name the connection (snapshot, inspect and restore say it comes back
       * reset); kept, if the snapshot asks and the kernel lets it (fd_tcp.c), which needs it. */
      if (peer_len <= WINDOW_OFF - PEER_OFF && rec->addr_len <= PEER_OFF) {
        memcpy(rec->addr + PEER_OFF, peer, peer_len);
        if (state == TCP_ESTABLISHED && amber_fd_tcp_wanted()) rec->u[0] = peer_len;
      }
      amber_fmt(rec->path, sizeof rec->path, "connected TCP %s socket", family);
    } else if (inet_port(rec)) {
      /* Bound and not listening, or a connection already over: bound again if possible. */
      rec->socket_kind = AMBER_SOCK_BOUND;
      amber_fmt(rec->path, sizeof rec->path, "bound TCP %s socket", family);
    } else {
      rec->socket_kind = AMBER_SOCK_UNBOUND;
      amber_fmt(rec->path, sizeof rec->path, "unbound TCP %s socket", family);
    }
    return 0;
  }
  if (rec->type == SOCK_DGRAM && rec->protocol == IPPROTO_UDP) {
    if (!get_int(fd, SOL_SOCKET, SO_BROADCAST, &v) && v) rec->u[1] |= OPT_BROADCAST;
    if (peer_len) {
      if (peer_len > sizeof rec->addr - PEER_OFF || rec->addr_len > PEER_OFF)
        return refuse(rec, "a UDP socket with an unusual address");
      memcpy(rec->addr + PEER_OFF, peer, peer_len);
      rec->u[0] = peer_len;
    }
    rec->socket_kind = inet_port(rec) || peer_len ? AMBER_SOCK_BOUND : AMBER_SOCK_UNBOUND;
    amber_fmt(rec->path, sizeof rec->path, "%s UDP %s socket",
              peer_len ? "connected" : inet_port(rec) ? "bound" : "unbound", family);
    return 0;
  }
  if (rec->type == SOCK_RAW)
    return refuse(rec, rec->domain == AF_INET ? "a raw IPv4 socket" : "a raw IPv6 socket");
  char what[96];
  amber_fmt(what, sizeof what, "an %s socket of type %d and protocol %d", family, rec->type,
            rec->protocol);
  return refuse(rec, what);
}

static const char *family_name(int domain) {
  switch (domain) {
  case AF_NETLINK: return "a netlink socket";
  case AF_PACKET: return "a packet socket";
  case AF_VSOCK: return "a vsock socket";
  case AF_BLUETOOTH: return "a Bluetooth socket";
  case AF_ALG: return "a crypto (AF_ALG) socket";
  case AF_XDP: return "an XDP socket";
  default: return 0;
  }
}

int amber_fd_socket_capture(struct amber_fd_rec *rec, const char *target, const struct stat *st) {
  int fd = rec->fd;
  rec->kind = AMBER_FD_SOCKET;
  rec->ino = st->st_ino;
  int32_t listening = 0;
  if (get_int(fd, SOL_SOCKET, SO_DOMAIN, &rec->domain) ||
      get_int(fd, SOL_SOCKET, SO_TYPE, &rec->type) ||
      get_int(fd, SOL_SOCKET, SO_PROTOCOL, &rec->protocol)) {
    amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
              "descriptor %d is a socket (%s) whose kind Amber cannot tell", fd, target);
    return -1;
  }
  get_int(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening);
  get_int(fd, SOL_SOCKET, SO_REUSEADDR, &rec->reuseaddr);
  socklen_t len = sizeof rec->addr;
  if (amber_sys3(SYS_getsockname, fd, rec->addr, &len) < 0) len = 0;
  rec->addr_len = len > sizeof rec->addr ? sizeof rec->addr : len;
  uint8_t peer[sizeof rec->addr];
  socklen_t peer_len = sizeof peer;
  if (amber_sys3(SYS_getpeername, fd, peer, &peer_len) < 0) peer_len = 0;
  switch (rec->domain) {
  case AF_UNIX:
    /* An unnamed datagram socket connected to a named one keeps the name, to connect again. */
    if (rec->type == SOCK_DGRAM && peer_len > sizeof(sa_family_t) &&
        rec->addr_len <= sizeof(sa_family_t)) {
      memcpy(rec->addr, peer, peer_len);
      rec->addr_len = peer_len;
      rec->u[0] = AMBER_UNIX_ADDR_IS_PEERS;
    }
    return capture_unix(rec, listening, peer, peer_len);
  case AF_INET:
  case AF_INET6: return capture_inet(rec, listening, peer, peer_len);
  }
  const char *name = family_name(rec->domain);
  if (name) return refuse(rec, name);
  char what[64];
  amber_fmt(what, sizeof what, "a socket of address family %d", rec->domain);
  return refuse(rec, what);
}

/* A TCP socket whose connection has just been reset by its peer: connected on loopback to a
 * listener of our own, whose side is closed with SO_LINGER {1, 0} (which sends RST). */
static int reset_socket(int family) {
  union {
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
  } a;
  memset(&a, 0, sizeof a);
  socklen_t alen;
  if (family == AF_INET) {
    a.v4.sin_family = AF_INET;
    a.v4.sin_addr.s_addr = __builtin_bswap32(INADDR_LOOPBACK);
    alen = sizeof a.v4;
  } else {
    a.v6.sin6_family = AF_INET6;
    a.v6.sin6_addr.s6_addr[15] = 1; /* ::1 */
    alen = sizeof a.v6;
  }
  int s = -1, acc = -1;
  long err;
  int lis = (int)amber_sys3(SYS_socket, family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
  if (lis < 0) return lis;
  if ((err = amber_sys3(SYS_bind, lis, &a, alen)) < 0 || (err = amber_sys2(SYS_listen, lis, 1)) < 0 ||
      (err = amber_sys3(SYS_getsockname, lis, &a, &alen)) < 0)
    goto out;
  s = (int)(err = amber_sys3(SYS_socket, family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP));
  if (s < 0) goto out;
  if ((err = amber_sys3(SYS_connect, s, &a, alen)) < 0) goto out;
  acc = (int)(err = amber_sys4(SYS_accept4, lis, 0, 0, SOCK_CLOEXEC));
  if (acc < 0) goto out;
  struct linger lg = {1, 0};
  if ((err = amber_sys5(SYS_setsockopt, acc, SOL_SOCKET, SO_LINGER, &lg, sizeof lg)) < 0) goto out;
  amber_sys1(SYS_close, acc);
  acc = -1;
  /* Loopback delivers the RST before close returns; wait a little in case it did not. */
  struct pollfd p = {s, 0, 0};
  struct timespec ts = {1, 0};
  amber_sys5(SYS_ppoll, &p, 1, &ts, 0, 8);
  err = 0;
out:
  if (acc >= 0) amber_sys1(SYS_close, acc);
  amber_sys1(SYS_close, lis);
  if (err < 0) {
    if (s >= 0) amber_sys1(SYS_close, s);
    return (int)err;
  }
  return s;
}

static int apply_options(int fd, const struct amber_fd_rec *rec) {
  uint64_t o = rec->u[1];
  if (o & OPT_REUSEPORT) set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1);
  if (o & OPT_KEEPALIVE) set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
  if (o & OPT_BROADCAST) set_int(fd, SOL_SOCKET, SO_BROADCAST, 1);
  if (o & OPT_NODELAY) set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1);
  if (rec->domain == AF_INET6) set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, (o & OPT_V6ONLY) != 0);
  return rec->domain == AF_INET || rec->domain == AF_INET6 ? amber_socket_options_apply(fd, rec) : 0;
}

/* The socket with its options, or -errno (closed) when one cannot be set again. */
static int with_options(int fd, const struct amber_fd_rec *rec) {
  int err = apply_options(fd, rec);
  if (!err) return fd;
  amber_sys1(SYS_close, fd);
  return err;
}

/* Makes way for binding a Unix socket to `path` again: removes the socket file the original
 * process left behind, unless a live socket still listens there (the original, when the
 * snapshot let it run on): then -EADDRINUSE. */
static int clear_path(const struct amber_fd_rec *rec, const char *path) {
  struct stat st;
  if (amber_sys4(SYS_newfstatat, AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
      !S_ISSOCK(st.st_mode))
    return 0; /* nothing there, or not a socket: bind will say */
  int probe = (int)amber_sys3(SYS_socket, AF_UNIX, rec->type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (probe >= 0) {
    long r = amber_sys3(SYS_connect, probe, rec->addr, rec->addr_len);
    amber_sys1(SYS_close, probe);
    if (r != -ECONNREFUSED && r != -ENOENT) return -EADDRINUSE;
  }
  amber_sys3(SYS_unlinkat, AT_FDCWD, path, 0);
  return 0;
}

/* A socket bound to its old address; listening again, or connected again (UDP), as it was. */
static int bound_socket(const struct amber_fd_rec *rec) {
  int fd = (int)amber_sys3(SYS_socket, rec->domain, rec->type | SOCK_CLOEXEC, rec->protocol);
  if (fd < 0) return fd;
  int tcp = rec->domain != AF_UNIX && rec->type == SOCK_STREAM;
  char path[sizeof rec->path];
  path[0] = 0;
  long err = 0;
  if (rec->domain == AF_UNIX) {
    unix_path(rec, path, sizeof path);
    /* An unlinked path is nobody's to clear: bound again, then unlinked (fd_unix_dgram.c). */
    if (path[0] && !(rec->u[1] & AMBER_UNIX_UNLINKED)) err = clear_path(rec, path);
    long applied = amber_socket_unix_apply(fd, rec);
    if (!err) err = applied;
  } else {
    err = apply_options(fd, rec);
  }
  /* Set for TCP whatever the program had: the original's connections may still be in
   * TIME_WAIT on this port. Put back as it was once bound. */
  if (tcp || rec->reuseaddr) set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
  if (err == 0 && rec->addr_len > sizeof(sa_family_t) && (rec->domain == AF_UNIX || inet_port(rec)))
    err = amber_sys3(SYS_bind, fd, rec->addr, rec->addr_len);
  if (err == -EADDRINUSE && rec->domain == AF_INET) err = amber_net_rebind(fd, (const void *)rec->addr, rec->addr_len);
  if (err == 0 && path[0] && rec->u[2])
    amber_sys4(SYS_fchmodat, AT_FDCWD, path, (long)(rec->u[2] - 1), 0);
  if (err == 0 && rec->socket_kind == AMBER_SOCK_LISTEN)
    err = amber_sys2(SYS_listen, fd, rec->backlog > 0 ? rec->backlog : SOMAXCONN);
  if (err == 0 && rec->u[0])
    err = amber_sys3(SYS_connect, fd, rec->addr + PEER_OFF, (long)rec->u[0]);
  if (tcp && !rec->reuseaddr) set_int(fd, SOL_SOCKET, SO_REUSEADDR, 0);
  if (err < 0 && tcp && rec->socket_kind == AMBER_SOCK_BOUND) {
    /* A TCP socket bound but not in use, or whose connection was over: best effort. */
    amber_sys1(SYS_close, fd);
    fd = (int)amber_sys3(SYS_socket, rec->domain, rec->type | SOCK_CLOEXEC, rec->protocol);
    return fd >= 0 ? with_options(fd, rec) : fd;
  }
  if (err < 0) {
    amber_sys1(SYS_close, fd);
    return (int)err;
  }
  return fd;
}

/* A bound datagram socket's unread messages, sent to it again from a socket of our own. */
static int refill_datagrams(const struct amber_fd_rec *rec) {
  if (!rec->nmsgs) return 0;
  int s = (int)amber_sys3(SYS_socket, AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return s;
  set_int(s, SOL_SOCKET, SO_SNDBUF, 1 << 20);
  long err = 0;
  const char *p = (const char *)rec->data;
  for (uint32_t i = 0; i < rec->nmsgs && err >= 0; i++) {
    uint32_t len;
    memcpy(&len, p, 4);
    err = amber_sys6(SYS_sendto, s, (long)(p + 4), len, MSG_DONTWAIT, (long)rec->addr,
                     rec->addr_len);
    p += 4 + len;
  }
  amber_sys1(SYS_close, s);
  return err < 0 ? (int)err : 0;
}

int amber_fd_socket_restore(struct amber_fd_rec *rec, int floor) {
  if (rec->peer_where == AMBER_PEER_LISTENER) return amber_backlog_take(rec, floor);
  if (rec->socket_kind == AMBER_SOCK_PAIR) return amber_fd_socketpair_restore(rec, floor);
  int fd;
  switch (rec->socket_kind) {
  case AMBER_SOCK_LISTEN:
  case AMBER_SOCK_BOUND:
    fd = bound_socket(rec);
    if (fd >= 0 && rec->socket_kind == AMBER_SOCK_LISTEN && rec->nmsgs) {
      int err = amber_backlog_reconnect(rec, fd); /* its waiting connections, Unix or TCP */
      if (err) {
        amber_sys1(SYS_close, fd);
        return err;
      }
    }
    if (fd >= 0 && amber_fd_unix_has_queue(rec)) {
      int err = refill_datagrams(rec);
      uint64_t key = amber_key(AMBER_KEY_UNIX_BOUND, rec->ino);
      if (!err) err = amber_fd_unix_dgram_bound(rec, fd);
      if (!err) err = amber_broker_put(key, 0, fd); /* for its clients (fd_socketpair.c) */
      if (err) {
        amber_sys1(SYS_close, fd);
        return err;
      }
    }
    break;
  case AMBER_SOCK_ESTABLISHED:
    fd = amber_fd_tcp_restore(rec, (uint32_t)rec->u[0]);
    if (fd >= 0) {
      fd = with_options(fd, rec);
      if (fd < 0) return fd;
      break;
    }
    amber_log("TCP connection on descriptor %d comes back reset: repair failed (%s)", rec->fd,
              amber_errno_name(fd));
    /* fall through */
  case AMBER_SOCK_RESET:
    fd = reset_socket(rec->domain);
    if (fd < 0 && rec->domain == AF_INET6) fd = reset_socket(AF_INET); /* no IPv6 here */
    break;
  case AMBER_SOCK_UNBOUND:
    fd = (int)amber_sys3(SYS_socket, rec->domain, rec->type | SOCK_CLOEXEC, rec->protocol);
    if (fd >= 0 && rec->domain != AF_UNIX) fd = with_options(fd, rec);
    if (fd >= 0 && rec->domain == AF_UNIX) {
      int err = amber_socket_unix_apply(fd, rec);
      if (err) amber_sys1(SYS_close, fd), fd = err;
    }
    break;
  default: return -EINVAL;
  }
  int err = fd >= 0 ? amber_mcast_restore(rec, fd) : 0; /* before the program runs */
  if (err) {
    amber_sys1(SYS_close, fd);
    return err;
  }
  return amber_fd_place(amber_fd_park(fd, floor), rec);
}

static int socket_recognise(const char *target, const struct stat *st) {
  (void)target;
  return S_ISSOCK(st->st_mode);
}

/* First pass once every process is frozen: a connected Unix socket's peer, a datagram
 * socket's queue state, a Unix listener's waiting connections. */
static int socket_frozen_peer(struct amber_fd_rec *rec) {
  if (rec->socket_kind == AMBER_SOCK_PAIR) return amber_fd_socketpair_peer(rec);
  if (amber_fd_unix_has_queue(rec)) return amber_fd_unix_dgram_frozen(rec);
  if (rec->socket_kind == AMBER_SOCK_LISTEN && rec->domain == AF_UNIX)
    amber_fd_unix_listener_waiting(rec);
  if (rec->socket_kind == AMBER_SOCK_RESET && rec->type == SOCK_STREAM && rec->domain != AF_UNIX)
    return amber_tcp_backlog_client(rec); /* waiting in a listener's queue? (tcp_backlog.c) */
  return 0;
}

/* After the share scan: the owner's unread messages; a TCP connection kept if it can be. */
static int socket_frozen(struct amber_fd_rec *rec) {
  if (amber_fd_port_check(rec)) return -1;
  if (amber_fd_owned(rec) && amber_mcast_save(rec)) return -1; /* the socket's memberships */
  if (amber_fd_unix_has_queue(rec))
    return amber_fd_owned(rec) ? amber_fd_unix_save_queue(rec) : 0;
  if (rec->socket_kind == AMBER_SOCK_LISTEN) {
    if (amber_fd_owned(rec)) /* its waiting connections (unix_backlog.c, tcp_backlog.c) */
      return rec->domain == AF_UNIX ? amber_backlog_listener(rec) : amber_tcp_backlog_listener(rec);
    rec->u[AMBER_SOCK_WAITING] = 0; /* its owner names what is lost */
  }
  if (rec->socket_kind == AMBER_SOCK_RESET && rec->peer_where != AMBER_PEER_LISTENER &&
      amber_fd_owned(rec))
    amber_fd_tcp_save(rec); /* else it comes back reset */
  return 0;
}

static int socket_settle(const struct amber_fd_rec *rec) {
  int err = amber_fd_socketpair_wait(rec);
  if (!err && amber_fd_owned(rec)) err = amber_fd_unix_dgram_settle(rec);
  return err;
}

static void socket_release(struct amber_fd_rec *rec) {
  if (rec->socket_kind == AMBER_SOCK_ESTABLISHED) amber_fd_tcp_release(rec);
}

const struct amber_fd_ops amber_fd_socket_ops = {
    .name = "socket",
    .kinds = AMBER_FD_BIT(AMBER_FD_SOCKET),
    .recognise = socket_recognise,
    .capture = amber_fd_socket_capture,
    .frozen_peer = socket_frozen_peer,
    .peers_done = amber_fd_socketpair_peers_done,
    .frozen = socket_frozen,
    .needs_peer = amber_fd_socketpair_needs_peer,
    .restore = amber_fd_socket_restore,
    .settle = socket_settle,
    .release = socket_release,
};
