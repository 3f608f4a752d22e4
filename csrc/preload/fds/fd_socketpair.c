/* Connected Unix sockets: the ends of a socketpair(), or of a connection accepted from a
 * listener, of any type (stream, seqpacket, datagram). The two ends pair up by inode, as a
 * pipe's do, and come back as one socket pair.
 *
 * Snapshot, while every process of the application is frozen (the WRITE phase, so that no
 * process still running can add or take a byte): sock_diag (NETLINK_SOCK_DIAG, UNIX_DIAG)
 * names each end's peer, both ends' shutdown state and send buffers; agent_share.c finds
 * whether a process of the application holds the peer; the owner of each end's description
 * peeks at its unread bytes without consuming them (MSG_PEEK from SO_PEEK_OFF 0; datagrams and
 * seqpackets one message at a time, so their boundaries are kept).
 *
 * Restore, when the peer was inside the application: the owner of the lower-inode end makes
 * the pair in phase 1 (agent_fds.c) and offers both ends under AMBER_KEY_SOCKETPAIR; the owner
 * of the other end takes them in phase 2. Each owner puts its own end's unread bytes back by
 * sending them through the other end, puts back the shutdown state, then says so (key 2 + end).
 * Every process that holds either end waits for both before its program runs, so no byte sent
 * after the restore overtakes one sent before the snapshot. The creator waits on nobody in
 * phase 1 and the other end's owner waits only on phase 1, so no process waits on one that
 * waits on it.
 *
 * A peer that was closed comes back closed: the pair's other end is closed once the bytes are
 * back (stream and seqpacket: the bytes, then end of file; EPIPE on sending). A peer outside
 * the application (a server of another program, a launcher) cannot come with it: the end comes
 * back reset, as a TCP connection does: stream and seqpacket ends read their unread bytes, then
 * ECONNRESET, then end of file; a datagram end's sends fail with ECONNREFUSED. Except a client
 * of a datagram server (an unnamed datagram socket connected to a bound one that is not
 * connected back, as to /dev/log): it connects to the server's name again (redial()).
 *
 * Not kept: addresses (a restored end is unnamed, and so is its peer: getsockname and
 * getpeername say so), an error a closing peer left pending (it reads as end of file). Out-of-band
 * bytes make the snapshot fail, naming the descriptor, and so do unread messages of another
 * process's that an SO_PASSCRED reader would see with their sender's credentials (every
 * message is sent again by the end's owner, in its own name). Descriptors in flight (SCM_RIGHTS not
 * read yet) are kept (unix_rights.c): the walks below hand them over at their messages, and a
 * refill that sends some waits until every descriptor is placed. A client waiting in a
 * listener's queue is unix_backlog.c's. */
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "../../common/errno_name.h"
#include "../../common/broker.h"
#include "../agent/agent_share.h"
#include "fd_kinds.h"

#ifndef SCM_PIDFD
#define SCM_PIDFD 0x04
#endif

#define TCP_LISTEN_STATE 10 /* udiag_state of a listener */
#define RCV_SHUTDOWN 1
#define SEND_SHUTDOWN 2
#define MAX_MESSAGES (1 << 16) /* a full default send buffer holds a few hundred */
#define SCM_MAX_FDS_HERE 1024   /* the kernel hands over at most 253 per message */

static int is_pair(const struct amber_fd_rec *rec) {
  return rec->kind == AMBER_FD_SOCKET && rec->socket_kind == AMBER_SOCK_PAIR;
}

static const char *type_name(int type) {
  return type == SOCK_STREAM ? "stream" : type == SOCK_SEQPACKET ? "seqpacket" : "datagram";
}

static int set_int(int fd, int level, int name, int v) {
  return (int)amber_sys5(SYS_setsockopt, fd, level, name, &v, sizeof v);
}

static int get_int(int fd, int level, int name) {
  int v = 0;
  socklen_t len = sizeof v;
  amber_sys5(SYS_getsockopt, fd, level, name, &v, &len);
  return v;
}

/* ---- sock_diag ---- */

struct diag_reply {
  int found;
  uint32_t peer; /* 0: none (closed, a connection never accepted, or never connected) */
  uint8_t shutdown;
  uint32_t sndbuf;
  uint8_t named; /* bound to a name */
  uint32_t rqueue; /* a listener's connections waiting to be accepted */
  uint8_t state;   /* TCP_LISTEN, TCP_ESTABLISHED... */
  uint32_t wmem;   /* bytes it sent that are not read yet (their buffers' size) */
  const uint32_t *icons; /* a listener's: its waiting connections' clients, in accept order */
  uint32_t nicons;
};

static int diag_sock = -1;
static uint32_t diag_seq;

/* The one answer about a Unix socket: its state and attributes. */
static int one_reply(const struct nlmsghdr *h, void *ctx) {
  struct diag_reply *out = ctx;
  out->found = 1;
  out->state = ((struct unix_diag_msg *)NLMSG_DATA(h))->udiag_state;
  long at = NLMSG_LENGTH(sizeof(struct unix_diag_msg));
  while (at + (long)sizeof(struct nlattr) <= (long)h->nlmsg_len) {
    struct nlattr *a = (void *)((char *)h + at);
    if (a->nla_len < sizeof *a || at + a->nla_len > (long)h->nlmsg_len) break;
    void *data = (char *)a + NLA_HDRLEN;
    long len = a->nla_len - NLA_HDRLEN;
    if (a->nla_type == UNIX_DIAG_PEER && len >= 4) memcpy(&out->peer, data, 4);
    if (a->nla_type == UNIX_DIAG_SHUTDOWN && len >= 1) out->shutdown = *(uint8_t *)data;
    if (a->nla_type == UNIX_DIAG_NAME && len > 0) out->named = 1;
    if (a->nla_type == UNIX_DIAG_RQLEN && len >= (long)sizeof(struct unix_diag_rqlen))
      out->rqueue = ((struct unix_diag_rqlen *)data)->udiag_rqueue;
    if (a->nla_type == UNIX_DIAG_MEMINFO && len >= (SK_MEMINFO_SNDBUF + 1) * 4) {
      memcpy(&out->sndbuf, (uint32_t *)data + SK_MEMINFO_SNDBUF, 4);
      memcpy(&out->wmem, (uint32_t *)data + SK_MEMINFO_WMEM_ALLOC, 4);
    }
    if (a->nla_type == UNIX_DIAG_ICONS) {
      out->icons = data;
      out->nicons = (uint32_t)(len / 4);
    }
    at += NLA_ALIGN(a->nla_len);
  }
  return 1;
}

/* Asks the kernel about the Unix socket with inode `ino`: 0 (found or not), or -errno. */
/* Sends a question about the Unix sockets in `states` (one by inode, or all: NLM_F_DUMP). */
static long ask(uint32_t states, uint64_t ino, uint16_t flags) {
  struct {
    struct nlmsghdr h;
    struct unix_diag_req r;
  } req;
  memset(&req, 0, sizeof req);
  req.r.sdiag_family = AF_UNIX;
  req.r.udiag_states = states;
  req.r.udiag_ino = (uint32_t)ino;
  req.r.udiag_show = UDIAG_SHOW_PEER | UDIAG_SHOW_MEMINFO | UDIAG_SHOW_NAME | UDIAG_SHOW_RQLEN |
                     UDIAG_SHOW_ICONS;
  req.r.udiag_cookie[0] = req.r.udiag_cookie[1] = ~0u;
  return amber_sock_diag_send(&diag_sock, &req.h, sizeof req, flags, ++diag_seq);
}

static int diag(uint64_t ino, struct diag_reply *out) {
  memset(out, 0, sizeof *out);
  long r = ask(~0u, ino, 0);
  return r < 0 ? (int)r : (int)amber_sock_diag_each(diag_sock, diag_seq, one_reply, out);
}

int amber_fd_socketpair_peer(struct amber_fd_rec *rec) {
  struct diag_reply me, peer;
  int err = diag(rec->ino, &me);
  if (!err && !me.found) err = -ENOENT;
  if (!err && me.peer) err = diag(me.peer, &peer);
  if (err) {
    amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
              "cannot ask the kernel (sock_diag) about the connected Unix socket on descriptor %d "
              "(%s)", rec->fd, amber_errno_name(err));
    return -1;
  }
  rec->shutdown = me.shutdown;
  rec->sndbuf = (int32_t)me.sndbuf;
  rec->peer_ino = me.peer && peer.found ? me.peer : 0;
  /* Outside until agent_share.c finds a process of the application that holds it. */
  rec->peer_where = rec->peer_ino ? AMBER_PEER_OUTSIDE : AMBER_PEER_CLOSED;
  rec->peer_shutdown = rec->peer_ino ? peer.shutdown : 0;
  rec->peer_sndbuf = rec->peer_ino ? (int32_t)peer.sndbuf : 0;
  rec->one_way = rec->peer_ino && peer.peer != rec->ino;
  if (!rec->one_way || peer.peer) rec->u[0] = 0; /* only a server's client connects again */
  rec->passcred = get_int(rec->fd, SOL_SOCKET, SO_PASSCRED) != 0;
  if (rec->peer_ino)
    amber_fmt(rec->path, sizeof rec->path, "connected Unix %s socket, peer socket:[%ld]",
              type_name(rec->type), (long)rec->peer_ino);
  else
    amber_fmt(rec->path, sizeof rec->path, "connected Unix %s socket, peer closed",
              type_name(rec->type));
  /* No peer: closed, or a connection waiting in a listener's queue (unix_backlog.c). */
  if (!me.peer && rec->type != SOCK_DGRAM) return amber_backlog_client(rec, me.wmem);
  return 0;
}

int amber_fd_unix_diag_peer(uint64_t ino, uint64_t *peer, int *named) {
  struct diag_reply r;
  int err = diag(ino, &r);
  if (!err && !r.found) err = -ENOENT;
  *peer = err ? 0 : r.peer;
  *named = !err && r.named;
  return err;
}

/* A dump's answer about one listener: does it hold the client waiting? */
struct listener_of {
  uint32_t client, listener;
};

static int one_listener(const struct nlmsghdr *h, void *ctx) {
  struct listener_of *l = ctx;
  struct diag_reply r;
  memset(&r, 0, sizeof r);
  one_reply(h, &r);
  for (uint32_t i = 0; i < r.nicons; i++)
    if (r.icons[i] == l->client) {
      l->listener = ((struct unix_diag_msg *)NLMSG_DATA(h))->udiag_ino;
      return 1;
    }
  return 0;
}

uint64_t amber_fd_unix_listener_of(uint64_t client) {
  struct listener_of l = {(uint32_t)client, 0};
  if (ask(1u << TCP_LISTEN_STATE, 0, NLM_F_DUMP) >= 0)
    amber_sock_diag_each(diag_sock, diag_seq, one_listener, &l);
  return l.listener;
}

int amber_fd_unix_waiting_clients(uint64_t ino, uint32_t *out, int cap) {
  struct diag_reply r;
  if (diag(ino, &r) || !r.found || r.state != TCP_LISTEN_STATE) return -1;
  int n = 0;
  for (uint32_t i = 0; i < r.nicons && n < cap; i++) out[n++] = r.icons[i];
  return n;
}

void amber_fd_unix_listener_waiting(struct amber_fd_rec *rec) {
  struct diag_reply r;
  if (diag(rec->ino, &r) == 0 && r.found) rec->u[AMBER_SOCK_WAITING] = r.rqueue;
}

void amber_fd_socketpair_peers_done(void) {
  if (diag_sock >= 0) amber_sys1(SYS_close, diag_sock);
  diag_sock = -1;
}

/* ---- unread bytes ---- */

/* The descriptors in flight (SCM_RIGHTS) that the last peek handed over, when asked to keep
 * them (unix_rights.c decides what becomes of them). */
static int passed[SCM_MAX_FDS_HERE];
static int npassed;

/* The first unread message whose credentials (SCM_CREDENTIALS, given to an SO_PASSCRED reader)
 * are not this process's: the restore sends every message again from this process, and the
 * kernel names the sender, so such a message would come back in this process's name. */
static struct ucred foreign;

static void check_creds(const struct cmsghdr *c) {
  struct ucred cred;
  if (foreign.pid || c->cmsg_len < CMSG_LEN(sizeof cred)) return;
  memcpy(&cred, CMSG_DATA(c), sizeof cred);
  if (cred.pid != (pid_t)amber_sys0(SYS_getpid) || cred.uid != (uid_t)amber_sys0(SYS_getuid) ||
      cred.gid != (gid_t)amber_sys0(SYS_getgid))
    foreign = cred.pid ? cred : (struct ucred){-1, cred.uid, cred.gid};
}

static void drop_passed(void) {
  for (int i = 0; i < npassed; i++) amber_sys1(SYS_close, passed[i]);
  npassed = 0;
}

/* One MSG_PEEK at the socket's peek offset. The descriptors in flight it hands over are kept
 * in passed[] when `keep`, else closed at once; *rights says there were some. A peek that could
 * not hand them all over (MSG_CTRUNC: too many, or the process's descriptor limit) is
 * -ENOBUFS. */
static long peek(int fd, void *buf, long len, int flags, int keep, int *rights) {
  static char control[CMSG_SPACE(sizeof passed)] __attribute__((aligned(8)));
  struct iovec iov = {buf, (size_t)len};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                       .msg_controllen = sizeof control};
  npassed = 0;
  *rights = 0;
  long r = amber_sys3(SYS_recvmsg, fd, &msg, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC | flags);
  if (r < 0) return r;
  for (size_t off = 0; off + sizeof(struct cmsghdr) <= msg.msg_controllen;) {
    struct cmsghdr *c = (void *)(control + off);
    if (c->cmsg_len < sizeof *c || off + c->cmsg_len > msg.msg_controllen) break;
    if (c->cmsg_level == SOL_SOCKET && (c->cmsg_type == SCM_RIGHTS || c->cmsg_type == SCM_PIDFD)) {
      int n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
      for (int i = 0; i < n; i++) {
        int one;
        memcpy(&one, CMSG_DATA(c) + i * sizeof(int), sizeof one);
        if (c->cmsg_type == SCM_RIGHTS && keep && npassed < SCM_MAX_FDS_HERE) passed[npassed++] = one;
        else amber_sys1(SYS_close, one);
      }
      if (c->cmsg_type == SCM_RIGHTS) *rights = 1;
    }
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) check_creds(c);
    off += CMSG_ALIGN(c->cmsg_len);
  }
  if (msg.msg_flags & MSG_CTRUNC) {
    drop_passed();
    return -ENOBUFS;
  }
  return r;
}

static int queue_failed(const struct amber_fd_rec *rec, const char *why) {
  amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
            "descriptor %d is a connected Unix socket %s, which Amber cannot save yet", rec->fd,
            why);
  return -1;
}

static long peek_at(int fd, uint64_t off, void *buf, long len, int keep, int *rights) {
  set_int(fd, SOL_SOCKET, SO_PEEK_OFF, (int)off);
  return peek(fd, buf, len, 0, keep, rights);
}

/* A stream peek that handed over descriptors ends with the bytes of the message they came
 * with; where those begin: the first byte whose own peek hands them over (halving). */
static uint64_t rights_start(int fd, uint64_t from, uint64_t end) {
  uint64_t lo = from, hi = end - 1;
  char byte;
  int rights;
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    if (peek_at(fd, mid, &byte, 1, 0, &rights) == 1 && rights) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/* A stream: FIONREAD says how many bytes wait; peeks walk them (a peek stops where the
 * senders' credentials change, and after bytes that came with descriptors). */
static int save_stream(struct amber_fd_rec *rec) {
  int pending = 0, rights = 0;
  amber_sys3(SYS_ioctl, rec->fd, FIONREAD, &pending);
  if (pending <= 0) return 0;
  char *buf = amber_fd_buffer((uint64_t)pending);
  if (!buf) return queue_failed(rec, "with more unread bytes than Amber's buffer holds");
  long got = 0;
  while (got < pending) {
    long n = peek_at(rec->fd, (uint64_t)got, buf + got, pending - got, 0, &rights);
    if (n == -ENOBUFS) return queue_failed(rec, "with more descriptors in flight than it can take");
    if (n <= 0) break;
    if (rights) {
      uint64_t at = rights_start(rec->fd, (uint64_t)got, (uint64_t)(got + n));
      long m = peek_at(rec->fd, at, buf + at, got + n - (long)at, 1, &rights);
      if (m != got + n - (long)at || !npassed) {
        drop_passed();
        return queue_failed(rec, "whose descriptors in flight changed while Amber read them");
      }
      int err = amber_rights_seen(rec, passed, npassed, at, (uint64_t)(got + n));
      npassed = 0;
      if (err) return err;
    }
    got += n;
  }
  if (got != pending) return queue_failed(rec, "with out-of-band or unreadable bytes");
  rec->data = (uint64_t)buf;
  rec->data_len = (uint64_t)got;
  return 0;
}

/* Datagrams or seqpackets: a first walk measures each message (MSG_TRUNC gives what is left of
 * the message at the peek offset) and meets its descriptors in flight, a second copies each
 * behind its length. An empty message is not peeked at again: once peeked, the kernel skips it
 * at any later peek offset. */
static int save_messages(struct amber_fd_rec *rec) {
  static char scratch[1 << 16];
  static uint32_t lengths[MAX_MESSAGES];
  int fd = rec->fd, rights = 0, more = 0, inq = 0;
  uint64_t total = 0;
  uint32_t count = 0;
  long r;
  /* A seqpacket socket whose peer is gone reads 0 (end of file) once its messages are all
   * peeked at, forever: past its bytes (SIOCINQ, all of them for a seqpacket socket), a 0
   * peeked twice is that end. Empty messages just before it are not told apart from it. */
  if (rec->type == SOCK_SEQPACKET) amber_sys3(SYS_ioctl, fd, FIONREAD, &inq);
  while ((r = peek(fd, scratch, sizeof scratch, MSG_TRUNC, !more, &rights)) >= 0) {
    if (r == 0 && !more && !npassed && rec->type == SOCK_SEQPACKET && total >= (uint64_t)inq) {
      r = peek(fd, scratch, sizeof scratch, MSG_TRUNC, 0, &rights);
      if (r == 0) r = -EAGAIN;
      else if (r == -EAGAIN) lengths[count++] = 0;
      break;
    }
    if (!more) {
      if (count == MAX_MESSAGES) {
        drop_passed();
        return queue_failed(rec, "with too many unread messages");
      }
      int err = npassed ? amber_rights_seen(rec, passed, npassed, count, count) : 0;
      npassed = 0;
      if (err) return err;
      lengths[count++] = (uint32_t)r;
      total += (uint64_t)r;
    }
    more = r > (long)sizeof scratch;
  }
  if (r == -ENOBUFS) return queue_failed(rec, "with more descriptors in flight than it can take");
  if (r != -EAGAIN) return queue_failed(rec, "whose unread messages cannot be read");
  if (!count) return 0;
  set_int(fd, SOL_SOCKET, SO_PEEK_OFF, 0);
  char *buf = amber_fd_buffer(total + 4ULL * count);
  if (!buf) return queue_failed(rec, "with more unread bytes than Amber's buffer holds");
  char *p = buf;
  for (uint32_t i = 0; i < count; i++) {
    uint32_t len = lengths[i];
    memcpy(p, &len, 4);
    if (len && peek(fd, p + 4, len, MSG_TRUNC, 0, &rights) != (long)len)
      return queue_failed(rec, "whose unread messages changed while Amber read them");
    p += 4 + len;
  }
  rec->data = (uint64_t)buf;
  rec->data_len = (uint64_t)(p - buf);
  rec->nmsgs = count;
  return 0;
}

int amber_fd_unix_save_queue(struct amber_fd_rec *rec) {
  rec->data = rec->data_len = 0;
  rec->nmsgs = 0;
  /* Peeks start at the peek offset: from the head, then the program's offset is put back. */
  int32_t peek_off = -1;
  socklen_t len = sizeof peek_off;
  amber_sys5(SYS_getsockopt, rec->fd, SOL_SOCKET, SO_PEEK_OFF, &peek_off, &len);
  rec->peek_off = peek_off;
  if (set_int(rec->fd, SOL_SOCKET, SO_PEEK_OFF, 0) < 0)
    return queue_failed(rec, "whose unread bytes cannot be peeked at (SO_PEEK_OFF)");
  amber_rights_begin();
  foreign.pid = 0;
  int err = rec->type == SOCK_STREAM ? save_stream(rec) : save_messages(rec);
  if (!err && foreign.pid) {
    amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
              "descriptor %d (%s) holds an unread message from pid %d (uid %d, gid %d) whose "
              "credentials (SO_PASSCRED) a restore cannot keep", rec->fd, rec->path, (int)foreign.pid,
              (int)foreign.uid, (int)foreign.gid);
    err = -1;
  }
  if (!err) err = amber_rights_end(rec);
  set_int(rec->fd, SOL_SOCKET, SO_PEEK_OFF, peek_off);
  return err;
}

/* ---- restore ---- */

static int end_of(const struct amber_fd_rec *rec) { return rec->ino < rec->peer_ino ? 0 : 1; }

static uint64_t pair_key(const struct amber_fd_rec *rec) {
  uint64_t low = rec->ino < rec->peer_ino ? rec->ino : rec->peer_ino;
  return amber_key(AMBER_KEY_SOCKETPAIR, low);
}

/* Does this end come from a pair that another descriptor's restore makes? */
int amber_fd_socketpair_needs_peer(const struct amber_fd_rec *rec) {
  if (rec->peer_where == AMBER_PEER_LISTENER) return 1; /* Unix or TCP (unix_backlog.c) */
  if (amber_fd_socketpair_redials(rec)) return rec->peer_where == AMBER_PEER_INSIDE;
  return is_pair(rec) && rec->peer_where == AMBER_PEER_INSIDE && end_of(rec) == 1;
}

static void set_sndbuf(int fd, int32_t want) {
  /* SO_SNDBUF reads back twice what was set. */
  if (want > 0 && get_int(fd, SOL_SOCKET, SO_SNDBUF) < want)
    set_int(fd, SOL_SOCKET, SO_SNDBUF, want / 2);
}

/* Sends bytes through `other`, with the descriptors in flight `fds` (n of them) if any. */
static long send_with(int other, const char *p, uint64_t len, const int *fds, int n) {
  static char control[CMSG_SPACE(sizeof passed)] __attribute__((aligned(8)));
  struct iovec iov = {(void *)p, (size_t)len};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  if (n) {
    struct cmsghdr *c = (void *)control;
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(n * sizeof(int));
    memcpy(CMSG_DATA(c), fds, n * sizeof(int));
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(n * sizeof(int));
  }
  return amber_sys3(SYS_sendmsg, other, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* A stream's bytes [from, to), the first with the descriptors in flight that came with them. */
static int send_stream(int other, const char *p, uint64_t from, uint64_t to, const int *fds,
                       int n) {
  for (uint64_t done = from; done < to || n;) {
    long sent = send_with(other, p + done, to - done, fds, n);
    if (sent < 0 || (sent == 0 && to > done)) return sent < 0 ? (int)sent : -EIO;
    done += (uint64_t)sent;
    n = 0; /* the kernel attaches them to the first buffer */
  }
  return 0;
}

/* Sends this end's saved bytes through `other`, so that they wait at `mine` again, each
 * descriptor in flight with the message or bytes it came with (unix_rights.c). */
static int refill(const struct amber_fd_rec *rec, int mine, int other) {
  int applied = amber_socket_unix_apply(mine, rec); /* its timeouts, buffers and SO_PASSCRED */
  if (applied) return applied;
  const char *p = (const char *)rec->data;
  int next = 0, n = 0, err = 0;
  uint64_t at = 0, end = 0;
  n = amber_rights_group(rec, &next, passed, SCM_MAX_FDS_HERE, &at, &end);
  if (rec->type == SOCK_STREAM) {
    uint64_t done = 0;
    for (; n && !err; n = amber_rights_group(rec, &next, passed, SCM_MAX_FDS_HERE, &at, &end)) {
      err = send_stream(other, p, done, at, 0, 0);
      if (!err) err = send_stream(other, p, at, end, passed, n);
      done = end;
    }
    if (!err) err = send_stream(other, p, done, rec->data_len, 0, 0);
    if (err) return err;
  } else {
    for (uint32_t i = 0; i < rec->nmsgs; i++) {
      uint32_t len;
      memcpy(&len, p, 4);
      int with = n && at == i ? n : 0;
      long sent = send_with(other, p + 4, len, passed, with);
      if (sent != (long)len) return sent < 0 ? (int)sent : -EMSGSIZE;
      if (with) n = amber_rights_group(rec, &next, passed, SCM_MAX_FDS_HERE, &at, &end);
      p += 4 + len;
    }
  }
  npassed = 0;
  if (rec->peek_off >= 0) set_int(mine, SOL_SOCKET, SO_PEEK_OFF, rec->peek_off);
  return 0;
}

/* Puts back the shutdown bits that stop bytes reaching `mine`: its own RCV_SHUTDOWN and the
 * peer's SEND_SHUTDOWN. The other end's refill puts back the rest, and neither stops the
 * other's refill. */
static void shut(const struct amber_fd_rec *rec, int mine, int other) {
  if (rec->shutdown & RCV_SHUTDOWN) amber_sys2(SYS_shutdown, mine, SHUT_RD);
  if (rec->peer_shutdown & SEND_SHUTDOWN) amber_sys2(SYS_shutdown, other, SHUT_WR);
}

static int make_pair(const struct amber_fd_rec *rec, int floor, int sv[2]) {
  long r = amber_sys4(SYS_socketpair, AF_UNIX, rec->type | SOCK_CLOEXEC, 0, sv);
  if (r < 0) return (int)r;
  sv[0] = amber_fd_park(sv[0], floor);
  sv[1] = amber_fd_park(sv[1], floor);
  if (sv[0] >= 0 && sv[1] >= 0) return 0;
  int err = sv[0] < 0 ? sv[0] : sv[1];
  if (sv[0] >= 0) amber_sys1(SYS_close, sv[0]);
  if (sv[1] >= 0) amber_sys1(SYS_close, sv[1]);
  return err;
}

/* What follows the refill of each end (the one of make_alone, make_first or take_second):
 * at once, or, for a queue with descriptors in flight, once every descriptor is placed
 * (unix_rights.c), with `mine` then at rec->fd. */
static int finish_alone(const struct amber_fd_rec *rec, int mine, int other) {
  int err = refill(rec, mine, other);
  if (!err && rec->peer_where == AMBER_PEER_OUTSIDE && rec->type != SOCK_DGRAM)
    amber_sys6(SYS_sendto, mine, (long)"", 1, MSG_DONTWAIT | MSG_NOSIGNAL, 0, 0);
  if (!err && rec->type == SOCK_DGRAM) { /* a datagram end's shutdown is its own */
    if (rec->shutdown & RCV_SHUTDOWN) amber_sys2(SYS_shutdown, mine, SHUT_RD);
    if (rec->shutdown & SEND_SHUTDOWN) amber_sys2(SYS_shutdown, mine, SHUT_WR);
  }
  return err;
}

static int finish_first(const struct amber_fd_rec *rec, int mine, int other) {
  int err = refill(rec, mine, other);
  if (!err) shut(rec, mine, other);
  if (!err) err = amber_broker_put(pair_key(rec), 2, mine);
  return err;
}

static int finish_second(const struct amber_fd_rec *rec, int mine, int other) {
  int err = refill(rec, mine, other);
  if (!err) shut(rec, mine, other);
  if (!err) err = amber_broker_put(pair_key(rec), 3, mine);
  return err;
}

static int finish(const struct amber_fd_rec *rec, int mine, int other, int floor,
                  int (*how)(const struct amber_fd_rec *rec, int mine, int other)) {
  if (amber_rights_count(rec)) return amber_rights_later(rec, other, floor, how);
  return how(rec, mine, other);
}

/* A peer closed or outside the application: a pair whose other end closes once this end's
 * bytes are back; one byte left unread there first makes the close a reset. */
static int make_alone(struct amber_fd_rec *rec, int floor) {
  int sv[2];
  int err = make_pair(rec, floor, sv);
  if (err) return err;
  set_sndbuf(sv[0], rec->sndbuf);
  set_sndbuf(sv[1], (int32_t)(rec->data_len * 2 + 4096));
  err = finish(rec, sv[0], sv[1], floor, finish_alone);
  amber_sys1(SYS_close, sv[1]);
  if (err) {
    amber_sys1(SYS_close, sv[0]);
    return err;
  }
  return amber_fd_place(sv[0], rec);
}

/* Phase 1, the owner of the lower-inode end: makes the pair and offers both ends. */
static int make_first(struct amber_fd_rec *rec, int floor) {
  uint64_t key = pair_key(rec);
  int sv[2];
  int err = make_pair(rec, floor, sv);
  if (err) return err;
  set_sndbuf(sv[0], rec->sndbuf);
  set_sndbuf(sv[1], rec->peer_sndbuf);
  err = amber_broker_put(key, 0, sv[0]);
  if (!err) err = amber_broker_put(key, 1, sv[1]);
  if (!err) err = finish(rec, sv[0], sv[1], floor, finish_first);
  amber_sys1(SYS_close, sv[1]);
  if (err) {
    amber_sys1(SYS_close, sv[0]);
    return err;
  }
  return amber_fd_place(sv[0], rec);
}

/* Phase 2, the owner of the other end: takes both, refills its end through the first. */
static int take_second(struct amber_fd_rec *rec, int floor) {
  uint64_t key = pair_key(rec);
  int mine = amber_fd_park(amber_broker_get(key, 1), floor);
  if (mine < 0) return mine;
  int other = amber_fd_park(amber_broker_get(key, 0), floor);
  int err = other < 0 ? other : finish(rec, mine, other, floor, finish_second);
  if (other >= 0) amber_sys1(SYS_close, other);
  if (err) {
    amber_sys1(SYS_close, mine);
    return err;
  }
  return amber_fd_place(mine, rec);
}

int amber_fd_socketpair_redials(const struct amber_fd_rec *rec) {
  return is_pair(rec) && rec->type == SOCK_DGRAM && rec->one_way &&
         rec->u[0] == AMBER_UNIX_ADDR_IS_PEERS;
}

/* A server's client: connected to the server's name again, once the server is bound (when it
 * is in the application, its restore says so under AMBER_KEY_UNIX_BOUND, in phase 1; this runs
 * in phase 2). A server that is not there any more makes it come back as if reset. Datagrams
 * it had not read are lost: their sender, the server, cannot send them again. */
static int redial(struct amber_fd_rec *rec, int floor) {
  if (rec->peer_where == AMBER_PEER_INSIDE) {
    int bound = amber_broker_get(amber_key(AMBER_KEY_UNIX_BOUND, rec->peer_ino), 0);
    if (bound < 0) return bound;
    amber_sys1(SYS_close, bound);
  }
  int fd = amber_fd_park((int)amber_sys3(SYS_socket, AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), floor);
  if (fd < 0) return fd;
  if (amber_sys3(SYS_connect, fd, rec->addr, rec->addr_len) < 0) {
    amber_sys1(SYS_close, fd);
    return make_alone(rec, floor);
  }
  if (rec->peer_where == AMBER_PEER_INSIDE) amber_fd_unix_dgram_redialed(rec, fd);
  set_sndbuf(fd, rec->sndbuf);
  if (rec->shutdown & RCV_SHUTDOWN) amber_sys2(SYS_shutdown, fd, SHUT_RD);
  if (rec->shutdown & SEND_SHUTDOWN) amber_sys2(SYS_shutdown, fd, SHUT_WR);
  return amber_fd_place(fd, rec);
}

int amber_fd_socketpair_restore(struct amber_fd_rec *rec, int floor) {
  if (rec->peer_where == AMBER_PEER_LISTENER) return amber_backlog_take(rec, floor);
  if (amber_fd_socketpair_redials(rec)) return redial(rec, floor);
  if (rec->peer_where != AMBER_PEER_INSIDE) return make_alone(rec, floor);
  return end_of(rec) == 0 ? make_first(rec, floor) : take_second(rec, floor);
}

/* After phase 2, in every process that holds an end: both ends' bytes are back. */
int amber_fd_socketpair_wait(const struct amber_fd_rec *rec) {
  if (!is_pair(rec) || rec->peer_where != AMBER_PEER_INSIDE || rec->one_way) return 0;
  uint64_t key = pair_key(rec);
  for (const struct amber_fd_rec *o = amber_ckpt.fds; o < rec; o++)
    if (is_pair(o) && o->peer_where == AMBER_PEER_INSIDE && pair_key(o) == key) return 0;
  for (uint64_t k2 = 2; k2 <= 3; k2++) {
    int fd = amber_broker_get(key, k2);
    if (fd < 0) return fd;
    amber_sys1(SYS_close, fd);
  }
  return 0;
}
