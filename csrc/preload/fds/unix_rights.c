/* Descriptors in flight: files sent over a Unix socket (SCM_RIGHTS) and not received yet.
 *
 * Snapshot. In the freeze, once its own descriptors are captured, the agent of each process
 * that holds a Unix socket with descriptors waiting in its queue ("scm_fds" in its fdinfo)
 * peeks at the queue: a peek hands over a duplicate of every file in flight (the kernel's
 * unix_peek_fds, as CRIU's sk-queue.c relies on). Each duplicate is captured as a descriptor
 * of the image by the kinds' own capture (a pipe end, a file at its offset, a socket...), held
 * open until the snapshot ends, so that the coordinator's share scan sees it as one more holder
 * of its open file (the sender may still hold it too). Once every process is frozen, the owner
 * of the socket reads the queue's bytes (fd_socketpair.c) and meets the same files again at
 * their places: which message (datagram, seqpacket), or which bytes of a stream (the peek that
 * returns them ends with the bytes they were sent with; where those begin is found by peeking
 * one byte at a time, halving); a file that is not the one seen in the freeze (sent or received
 * meanwhile) fails the snapshot as a race, which takes itself again a moment later.
 *
 * Restore. The duplicates come back as descriptors at the numbers they had (free ones in the
 * program), in agent_fds.c's phases; the refill of a queue that holds some waits until every
 * descriptor is placed (amber_rights_later), then sends each message with its files again
 * through the other end, before any process runs. Then the duplicates are closed.
 *
 * Refused, named: a file in flight that is itself a Unix socket with files in flight (nested),
 * a bound datagram socket with files in flight, and a process holding POSIX locks (closing a
 * peeked duplicate would drop them: POSIX locks belong to the process and the file). */
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>

#include "fd_kinds.h"

#define KCMP_FILE 0
#define LATER_MAX 64

/* The count on "scm_fds:" in the descriptor's fdinfo (files in flight in its queue), or 0. */
static long scm_fds(int fd) {
  static char text[4096];
  char path[64];
  amber_fmt(path, sizeof path, "/proc/thread-self/fdinfo/%d", fd);
  if (amber_read_file(path, text, sizeof text) <= 0) return 0;
  const char *p = strstr(text, "scm_fds:");
  uint64_t n = 0;
  if (!p) return 0;
  p += 8;
  while (*p == ' ' || *p == '\t') p++;
  amber_parse_u64(&p, &n, 10);
  return (long)n;
}

/* Whether this process holds a POSIX lock through one of its first n descriptors. */
static int holds_posix_lock(int n) {
  static char text[8192];
  for (int i = 0; i < n; i++) {
    char path[64];
    amber_fmt(path, sizeof path, "/proc/thread-self/fdinfo/%d", amber_ckpt.fds[i].fd);
    if (amber_read_file(path, text, sizeof text) > 0 && strstr(text, "POSIX")) return 1;
  }
  return 0;
}

static int refuse(const struct amber_fd_rec *sock, const char *why) {
  amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
            "descriptor %d (%s) has descriptors in flight (SCM_RIGHTS, not received yet) %s",
            sock->fd, sock->path, why);
  return -1;
}

/* ---- the freeze: keep each duplicate as a descriptor of the image ---- */

static int keep(struct amber_fd_rec *sock, int fd, uint64_t at) {
  if (amber_ckpt.nfds == AMBER_MAX_FDS) {
    amber_sys1(SYS_close, fd);
    return refuse(sock, "beyond the number of descriptors Amber saves");
  }
  struct amber_fd_rec *rec = &amber_ckpt.fds[amber_ckpt.nfds];
  memset(rec, 0, sizeof *rec);
  rec->fd = fd;
  rec->flight_sock = sock->fd + 1;
  rec->flight_held = 1;
  rec->flight_at = at;
  amber_ckpt.nfds++; /* released (closed) with the others from now on */
  rec->flags = (int32_t)amber_sys2(SYS_fcntl, fd, F_GETFL);
  rec->fdflags = (int32_t)amber_sys2(SYS_fcntl, fd, F_GETFD);
  static char why[sizeof amber_ckpt.error];
  amber_ckpt.error[0] = 0;
  int err = amber_fd_capture_not_stdio(rec);
  if (!err && rec->kind == 0) {
    amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error, "a terminal is one of them");
    err = -1;
  }
  if (!err) err = amber_fd_owner_capture(rec);
  if (!err && amber_fd_unix_has_queue(rec) && scm_fds(fd) > 0) {
    amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
              "it is a Unix socket with descriptors in flight of its own (nested)");
    err = -1;
  }
  if (!err) return 0;
  amber_fmt(why, sizeof why, "and one of them, sent with %s %ld, cannot be saved: %s",
            sock->type == SOCK_STREAM ? "byte" : "message", (long)at,
            amber_ckpt.error[0] ? amber_ckpt.error : "it cannot be saved");
  return refuse(sock, why);
}

/* The descriptors a peek of sock's queue handed over, at a message or at stream bytes
 * [at, end): in the freeze, kept; once every process is frozen, met again in order. */
static int mode; /* 0: none, 1: keep, 2: meet */
static int cursor; /* meeting: the next record to compare */

static int meet(struct amber_fd_rec *sock, int fd, uint64_t at, uint64_t end) {
  for (; cursor < amber_ckpt.nfds; cursor++) {
    struct amber_fd_rec *r = &amber_ckpt.fds[cursor];
    if (r->flight_sock != sock->fd + 1) continue;
    long same = amber_sys5(SYS_kcmp, amber_sys_getpid(), amber_sys_getpid(), KCMP_FILE, r->fd, fd);
    if (same != 0) break;
    r->flight_at = at;
    r->flight_end = end;
    cursor++;
    return 0;
  }
  return refuse(sock, "that changed during the snapshot (sent or received meanwhile)");
}

int amber_rights_seen(struct amber_fd_rec *sock, const int *fds, int n, uint64_t at,
                      uint64_t end) {
  int err = 0;
  for (int i = 0; i < n; i++) {
    if (!err && mode == 1) {
      err = keep(sock, fds[i], at);
      continue; /* the record holds it now (or it was closed) */
    }
    if (!err && mode == 2) err = meet(sock, fds[i], at, end);
    amber_sys1(SYS_close, fds[i]);
  }
  return err;
}

/* Another descriptor of this process, before index i, on the same socket: its queue is that
 * one's (the first, which the socket's owner restores if this process owns it). */
static int seen_socket(int i) {
  for (int j = 0; j < i; j++)
    if (amber_ckpt.fds[j].ino == amber_ckpt.fds[i].ino && amber_fd_unix_has_queue(&amber_ckpt.fds[j]))
      return 1;
  return 0;
}

int amber_rights_capture(void) {
  int n = amber_ckpt.nfds, locks_checked = 0;
  for (int i = 0; i < n; i++) {
    struct amber_fd_rec *sock = &amber_ckpt.fds[i];
    if (!amber_fd_unix_has_queue(sock) || scm_fds(sock->fd) <= 0 || seen_socket(i)) continue;
    if (sock->socket_kind != AMBER_SOCK_PAIR)
      return refuse(sock, "on a bound datagram socket, which Amber cannot save yet");
    if (!locks_checked++ && holds_posix_lock(n))
      return refuse(sock, "while its process holds POSIX locks, which Amber cannot save: "
                          "peeking at them would drop the locks");
    /* The bytes are read again once every process is frozen: only the files are kept now. */
    uint64_t used = amber_ckpt.fd_buffer_used;
    mode = 1;
    int err = amber_fd_unix_save_queue(sock);
    mode = 0;
    amber_ckpt.fd_buffer_used = used;
    sock->data = sock->data_len = 0;
    sock->nmsgs = 0;
    if (err) return err;
  }
  return 0;
}

void amber_rights_begin(void) {
  if (mode != 1) mode = 2;
  cursor = 0;
}

int amber_rights_end(struct amber_fd_rec *sock) {
  int was = mode;
  if (mode == 2) mode = 0;
  if (was != 2) return 0;
  for (; cursor < amber_ckpt.nfds; cursor++)
    if (amber_ckpt.fds[cursor].flight_sock == sock->fd + 1)
      return refuse(sock, "that changed during the snapshot (received meanwhile)");
  return 0;
}

int amber_rights_count(const struct amber_fd_rec *sock) {
  int n = 0;
  for (int i = 0; i < amber_ckpt.nfds; i++) n += amber_ckpt.fds[i].flight_sock == sock->fd + 1;
  return n;
}

/* The next group of files in flight of sock's queue from *next on (one message's, or one
 * stream chunk's): how many, their descriptors in fds, their place in *at and *end. */
int amber_rights_group(const struct amber_fd_rec *sock, int *next, int *fds, int cap,
                       uint64_t *at, uint64_t *end) {
  int n = 0;
  for (; *next < amber_ckpt.nfds; (*next)++) {
    const struct amber_fd_rec *r = &amber_ckpt.fds[*next];
    if (r->flight_sock != sock->fd + 1) continue;
    if (n && (r->flight_at != *at || n == cap)) break;
    *at = r->flight_at;
    *end = r->flight_end;
    fds[n++] = r->fd;
  }
  return n;
}

/* ---- restore ---- */

static struct {
  const struct amber_fd_rec *rec;
  int other;
  int (*finish)(const struct amber_fd_rec *rec, int mine, int other);
} later[LATER_MAX];
static int nlater;

int amber_rights_later(const struct amber_fd_rec *rec, int other, int floor,
                       int (*finish)(const struct amber_fd_rec *rec, int mine, int other)) {
  if (nlater == LATER_MAX) return -ENOSPC;
  int kept = (int)amber_sys3(SYS_fcntl, other, F_DUPFD_CLOEXEC, floor);
  if (kept < 0) return kept;
  later[nlater].rec = rec;
  later[nlater].other = kept;
  later[nlater++].finish = finish;
  return 0;
}

int amber_rights_deliver(const struct amber_fd_rec **failed) {
  int err = 0;
  for (int i = 0; i < nlater; i++) {
    if (!err) err = later[i].finish(later[i].rec, later[i].rec->fd, later[i].other);
    if (err && !*failed) *failed = later[i].rec;
    amber_sys1(SYS_close, later[i].other);
  }
  nlater = 0;
  return err;
}

void amber_rights_release(void) {
  for (int i = 0; i < amber_ckpt.nfds; i++) {
    struct amber_fd_rec *r = &amber_ckpt.fds[i];
    if (!r->flight_sock || !r->flight_held) continue;
    amber_sys1(SYS_close, r->fd);
    r->flight_held = 0;
  }
  mode = 0;
}
