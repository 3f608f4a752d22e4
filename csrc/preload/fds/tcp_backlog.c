/* TCP connections waiting in a listener's accept queue whose client is a socket of the
 * application (loopback between two of its processes): kept, as unix_backlog.c keeps Unix
 * ones. A waiting connection is a server-side socket the kernel made (ESTABLISHED, with no
 * file until accept(): inode 0 in sock_diag) on the listener's port; its client is the socket
 * at the other end of the same addresses.
 *
 * Snapshot, every process frozen: a connected TCP client asks sock_diag (NETLINK_SOCK_DIAG,
 * inet_diag) for the socket at its peer's end; one with no file, on the port of a listener the
 * application holds, is waiting there (peer_where AMBER_PEER_LISTENER, peer_ino the listener);
 * one that holds bytes the client sent is refused by name, as for Unix. The listener's owner
 * lists the sockets waiting on its port and saves the inodes of their clients the application
 * holds; the others are named as lost.
 *
 * Restore: as unix_backlog.c (amber_backlog_reconnect and amber_backlog_take), the new
 * connections made to the listener's address (loopback for a wildcard one). Not kept: the
 * order of the queue (sock_diag lists them by hash, not in accept order) and each client's
 * local port (the new connection has a port of its own). */
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

#include "fd_kinds.h"

#define MAX_WAITING 4096
#define PEER_OFF AMBER_SOCK_PEER_OFF

struct end {
  uint16_t port; /* network order */
  uint32_t addr[4];
};

/* The address and port of a sockaddr_in or sockaddr_in6. */
static struct end end_of(const uint8_t *sa) {
  struct end e;
  memset(&e, 0, sizeof e);
  if (((const struct sockaddr *)sa)->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const void *)sa;
    e.port = in->sin_port;
    e.addr[0] = in->sin_addr.s_addr;
  } else {
    const struct sockaddr_in6 *in6 = (const void *)sa;
    e.port = in6->sin6_port;
    memcpy(e.addr, &in6->sin6_addr, 16);
  }
  return e;
}

struct answer {
  int (*each)(const struct inet_diag_msg *m, void *ctx);
  void *ctx;
};

static int answer(const struct nlmsghdr *h, void *ctx) {
  const struct answer *a = ctx;
  return a->each(NLMSG_DATA(h), a->ctx);
}

static int diag_sock = -1;
static uint32_t diag_seq;

/* Asks inet_diag about TCP sockets of `family` in `states`: the one with exactly these ends
 * (exact), or every one (a dump). Each answer goes to each(msg, ctx) until it returns
 * nonzero. 0, or -errno. */
static int query(int family, uint32_t states, const struct end *src, const struct end *dst,
                 int (*each)(const struct inet_diag_msg *m, void *ctx), void *ctx) {
  struct {
    struct nlmsghdr h;
    struct inet_diag_req_v2 r;
  } req;
  memset(&req, 0, sizeof req);
  req.r.sdiag_family = (uint8_t)family;
  req.r.sdiag_protocol = IPPROTO_TCP;
  req.r.idiag_states = states;
  req.r.id.idiag_cookie[0] = req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  if (src) {
    req.r.id.idiag_sport = src->port;
    req.r.id.idiag_dport = dst->port;
    memcpy(req.r.id.idiag_src, src->addr, 16);
    memcpy(req.r.id.idiag_dst, dst->addr, 16);
  }
  long r = amber_sock_diag_send(&diag_sock, &req.h, sizeof req, src ? 0 : NLM_F_DUMP, ++diag_seq);
  struct answer a = {each, ctx};
  if (r >= 0) r = amber_sock_diag_each(diag_sock, diag_seq, answer, &a);
  return (int)r;
}

static int copy_msg(const struct inet_diag_msg *m, void *ctx) {
  memcpy(ctx, m, sizeof *m);
  return 1;
}

/* The socket with these ends, or found 0. */
static int exact(int family, const struct end *src, const struct end *dst,
                 struct inet_diag_msg *out) {
  memset(out, 0, sizeof *out);
  int err = query(family, ~0u, src, dst, copy_msg, out);
  return err ? err : out->idiag_inode || out->idiag_state ? 1 : 0;
}

struct listener_find {
  uint16_t port;
  uint32_t inode;
};

static int find_listener(const struct inet_diag_msg *m, void *ctx) {
  struct listener_find *f = ctx;
  if (m->id.idiag_sport != f->port || !amber_backlog_held(m->idiag_inode)) return 0;
  f->inode = m->idiag_inode;
  return 1;
}

static void done(void) {
  if (diag_sock >= 0) amber_sys1(SYS_close, diag_sock); /* not one for the program to keep */
  diag_sock = -1;
}

/* The listener (held by the application) that the connection from `me` to `peer` waits on, or
 * 0; *server the waiting socket. */
static uint32_t waiting_on(int family, const struct end *me, const struct end *peer,
                           struct inet_diag_msg *server) {
  if (exact(family, peer, me, server) <= 0) return 0;
  if (server->idiag_state != TCP_ESTABLISHED || server->idiag_inode) return 0; /* accepted */
  struct listener_find f = {peer->port, 0};
  if (query(family, 1u << TCP_LISTEN, 0, 0, find_listener, &f)) return 0;
  return f.inode;
}

int amber_tcp_backlog_client(struct amber_fd_rec *rec) {
  if (rec->addr_len > PEER_OFF || (rec->addr[PEER_OFF] == 0 && rec->addr[PEER_OFF + 1] == 0))
    return 0; /* no peer address saved */
  struct end me = end_of(rec->addr), peer = end_of(rec->addr + PEER_OFF);
  struct inet_diag_msg server;
  struct listener_find f = {peer.port, waiting_on(rec->domain, &me, &peer, &server)};
  done();
  if (!f.inode) return 0;
  if (server.idiag_rqueue) {
    amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
              "descriptor %d is a TCP connection waiting to be accepted by listener "
              "socket:[%ld] with %d bytes it sent not read yet, which Amber cannot read before "
              "the server accepts the connection", rec->fd, (long)f.inode,
              (int)server.idiag_rqueue);
    return -1;
  }
  rec->peer_where = AMBER_PEER_LISTENER;
  rec->peer_ino = f.inode;
  amber_fmt(rec->path, sizeof rec->path,
            "TCP connection waiting to be accepted by listener socket:[%ld]", (long)f.inode);
  return 0;
}

static int any_addr(const struct end *e) {
  return !e->addr[0] && !e->addr[1] && !e->addr[2] && !e->addr[3];
}

/* The sockets waiting on a listener's port (its address, or any for a wildcard listener): the
 * ends of each, collected during the dump and looked at after it. */
struct waiting {
  struct end at;
  struct end local[MAX_WAITING], remote[MAX_WAITING];
  uint32_t n;
};

static int one_waiting(const struct inet_diag_msg *m, void *ctx) {
  struct waiting *w = ctx;
  if (m->idiag_inode || m->id.idiag_sport != w->at.port || w->n == MAX_WAITING) return 0;
  if (!any_addr(&w->at) && memcmp(m->id.idiag_src, w->at.addr, 16)) return 0;
  w->local[w->n].port = m->id.idiag_sport;
  memcpy(w->local[w->n].addr, m->id.idiag_src, 16);
  w->remote[w->n].port = m->id.idiag_dport;
  memcpy(w->remote[w->n].addr, m->id.idiag_dst, 16);
  w->n++;
  return 0;
}

int amber_tcp_backlog_listener(struct amber_fd_rec *rec) {
  static struct waiting w;
  memset(&w, 0, sizeof w);
  w.at = end_of(rec->addr);
  rec->data = rec->data_len = 0;
  rec->nmsgs = 0;
  if (query(rec->domain, 1u << TCP_ESTABLISHED, 0, 0, one_waiting, &w) || !w.n) {
    done();
    return 0;
  }
  uint64_t *kept = amber_fd_buffer((uint64_t)w.n * sizeof *kept);
  if (!kept) {
    amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
              "descriptor %d (%s) has more connections waiting than Amber's buffer holds",
              rec->fd, rec->path);
    return -1;
  }
  uint32_t count = 0, lost = 0;
  for (uint32_t i = 0; i < w.n; i++) {
    struct inet_diag_msg client;
    if (exact(rec->domain, &w.remote[i], &w.local[i], &client) > 0 && client.idiag_inode &&
        amber_backlog_held(client.idiag_inode))
      kept[count++] = client.idiag_inode;
    else
      lost++;
  }
  done();
  rec->data = (uint64_t)kept;
  rec->data_len = count * sizeof *kept;
  rec->nmsgs = count;
  rec->u[AMBER_SOCK_WAITING] = lost; /* named by the snapshot (src/lost.ts) */
  return 0;
}

void amber_tcp_backlog_address(uint8_t *sa) {
  if (((struct sockaddr *)sa)->sa_family == AF_INET) {
    struct sockaddr_in *in = (void *)sa;
    if (!in->sin_addr.s_addr) in->sin_addr.s_addr = __builtin_bswap32(INADDR_LOOPBACK);
  } else {
    struct sockaddr_in6 *in6 = (void *)sa;
    static const uint8_t any[16];
    if (!memcmp(&in6->sin6_addr, any, 16)) in6->sin6_addr.s6_addr[15] = 1; /* ::1 */
  }
}
