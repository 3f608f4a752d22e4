/* Established TCP connections kept across a restore (snapshot flag AMBER_SNAPSHOT_TCP_ESTABLISHED),
 * with the kernel's repair mode (TCP_REPAIR, CAP_NET_ADMIN), as CRIU does.
 *
 * Snapshot, once every process is frozen, by the socket's owner: the socket enters repair mode,
 * which it keeps until the application resumes (amber_fds_release): a socket closed in repair
 * mode sends nothing, so ending the original (--stop) leaves the peer unaware. Saved: both
 * queues' sequence numbers and bytes (peeked, the queue picked with TCP_REPAIR_QUEUE), the
 * windows (TCP_REPAIR_WINDOW), the options agreed at the handshake, the timestamp clock.
 *
 * Restore: a socket in repair mode takes the sequence numbers, binds to the old local address,
 * "connects" (no packet is sent), gets the options, its receive queue refilled and its send
 * queue refilled (the kernel retransmits those bytes as if they had been lost), the windows;
 * it leaves repair mode once every restored process has its descriptors (amber_fd_tcp_release). Anything that fails falls back to a reset connection, as without
 * the flag; so does a kernel that refuses repair mode at the snapshot.
 *
 * Record use: u[3] the send queue's first sequence number << 32 | the receive queue's; u[4]
 * the send queue's length (the receive queue's is data_len - u[4]; send bytes come first);
 * u[5] MSS | send wscale << 16 | receive wscale << 20 | tcpi_options << 24 | timestamp << 32;
 * the peer's address at addr + AMBER_SOCK_PEER_OFF (its length in u[0]), the windows at
 * addr + AMBER_SOCK_WINDOW_OFF. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "fd_kinds.h"

#define SIOCOUTQ 0x5411

static int setopt(int fd, int name, int v) {
  return (int)amber_sys5(SYS_setsockopt, fd, IPPROTO_TCP, name, &v, sizeof v);
}

static int getopt_u32(int fd, int name, uint32_t *out) {
  socklen_t len = sizeof *out;
  return (int)amber_sys5(SYS_getsockopt, fd, IPPROTO_TCP, name, out, &len);
}

int amber_fd_tcp_wanted(void) {
  return (amber.table->ctl.flags & AMBER_SNAPSHOT_TCP_ESTABLISHED) != 0;
}

/* Peeks `len` bytes of the queue picked; 0, or -1. */
static int peek_queue(int fd, int queue, char *buf, uint32_t len, uint32_t *seq) {
  if (setopt(fd, TCP_REPAIR_QUEUE, queue) < 0 || getopt_u32(fd, TCP_QUEUE_SEQ, seq) < 0) return -1;
  uint32_t got = 0;
  while (got < len) {
    long n =
        amber_sys6(SYS_recvfrom, fd, (long)(buf + got), len - got, MSG_PEEK | MSG_DONTWAIT, 0, 0);
    if (n <= 0) return -1;
    got += (uint32_t)n;
  }
  return 0;
}

/* 0 with the connection saved, or -1: it will come back reset (nothing is left in repair). */
int amber_fd_tcp_save(struct amber_fd_rec *rec) {
  int fd = rec->fd;
  if (!rec->u[0]) return -1; /* not asked for, or no peer address saved (fd_socket.c) */
  if (setopt(fd, TCP_REPAIR, 1) < 0) return -1; /* no CAP_NET_ADMIN: reset, as without it */
  struct tcp_info ti;
  socklen_t len = sizeof ti;
  memset(&ti, 0, sizeof ti);
  int in_len = 0, out_len = 0;
  struct tcp_repair_window win;
  socklen_t wlen = sizeof win;
  uint32_t mss = 0, ts = 0, in_seq = 0, out_seq = 0;
  if (amber_sys5(SYS_getsockopt, fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 ||
      ti.tcpi_state != TCP_ESTABLISHED || amber_sys3(SYS_ioctl, fd, FIONREAD, &in_len) < 0 ||
      amber_sys3(SYS_ioctl, fd, SIOCOUTQ, &out_len) < 0 || getopt_u32(fd, TCP_MAXSEG, &mss) < 0 ||
      getopt_u32(fd, TCP_TIMESTAMP, &ts) < 0 ||
      amber_sys5(SYS_getsockopt, fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, &win, &wlen) < 0)
    goto fail;
  static char none[1]; /* both queues empty: nothing to keep, and no buffer to take */
  char *buf = in_len + out_len ? amber_fd_buffer((uint64_t)in_len + (uint64_t)out_len) : none;
  if (!buf || peek_queue(fd, TCP_SEND_QUEUE, buf, (uint32_t)out_len, &out_seq) ||
      peek_queue(fd, TCP_RECV_QUEUE, buf + out_len, (uint32_t)in_len, &in_seq))
    goto fail;
  /* TCP_QUEUE_SEQ gives the sequence number after each queue; a restore starts before it. */
  rec->u[3] = (uint64_t)(out_seq - (uint32_t)out_len) << 32 | (uint32_t)(in_seq - (uint32_t)in_len);
  rec->u[4] = (uint64_t)out_len;
  rec->u[5] = (mss & 0xffff) | (uint64_t)(ti.tcpi_snd_wscale & 15) << 16 |
              (uint64_t)(ti.tcpi_rcv_wscale & 15) << 20 | (uint64_t)(ti.tcpi_options & 0xff) << 24 |
              (uint64_t)ts << 32;
  memcpy(rec->addr + AMBER_SOCK_WINDOW_OFF, &win, sizeof win);
  rec->data = buf == none ? 0 : (uint64_t)buf;
  rec->data_len = (uint64_t)in_len + (uint64_t)out_len;
  rec->socket_kind = AMBER_SOCK_ESTABLISHED;
  amber_fmt(rec->path, sizeof rec->path, "established TCP connection (kept)");
  return 0;
fail:
  setopt(fd, TCP_REPAIR_QUEUE, TCP_NO_QUEUE);
  setopt(fd, TCP_REPAIR, 0);
  return -1;
}

/* The application goes on: its connections leave repair mode, after a snapshot and after a
 * restore alike. Leaving it sends the peer a window probe: a restored connection whose peer is
 * in the application too must wait until every process has its descriptors back (the lock
 * barrier comes first, fd_locks.c), or the probe finds no socket, the kernel answers with a
 * reset, and the connection is lost. */
void amber_fd_tcp_release(struct amber_fd_rec *rec) {
  if (setopt(rec->fd, TCP_REPAIR, 0) < 0 || !rec->reuseaddr) return;
  int one = 1;
  amber_sys5(SYS_setsockopt, rec->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
}

static int refill(int fd, int queue, const char *bytes, uint64_t len) {
  if (setopt(fd, TCP_REPAIR_QUEUE, queue) < 0) return -1;
  for (uint64_t done = 0; done < len;) {
    long n = amber_sys6(SYS_sendto, fd, (long)(bytes + done), len - done, 0, 0, 0);
    if (n <= 0) return -1;
    done += (uint64_t)n;
  }
  return 0;
}

/* The connection again, or a negative errno (the caller falls back to a reset one). */
int amber_fd_tcp_restore(const struct amber_fd_rec *rec, uint32_t peer_len) {
  int fd = (int)amber_sys3(SYS_socket, rec->domain, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) return fd;
  uint64_t o = rec->u[5];
  uint32_t out_len = (uint32_t)rec->u[4];
  const char *bytes = (const char *)rec->data;
  struct tcp_repair_window win;
  memcpy(&win, rec->addr + AMBER_SOCK_WINDOW_OFF, sizeof win);
  struct tcp_repair_opt opts[4];
  int nopts = 0;
  opts[nopts++] = (struct tcp_repair_opt){TCPOPT_MAXSEG, (uint32_t)(o & 0xffff)};
  uint32_t tcpi = (uint32_t)(o >> 24) & 0xff;
  if (tcpi & TCPI_OPT_WSCALE)
    opts[nopts++] = (struct tcp_repair_opt){TCPOPT_WINDOW, (uint32_t)((o >> 16) & 15) |
                                                               (uint32_t)((o >> 20) & 15) << 16};
  if (tcpi & TCPI_OPT_SACK) opts[nopts++] = (struct tcp_repair_opt){TCPOPT_SACK_PERMITTED, 0};
  if (tcpi & TCPI_OPT_TIMESTAMPS) opts[nopts++] = (struct tcp_repair_opt){TCPOPT_TIMESTAMP, 0};
  /* Repair mode also lets it bind beside the listener it came from (SK_FORCE_REUSE), which
   * setting SO_REUSEADDR now would undo. */
  long err = setopt(fd, TCP_REPAIR, 1);
  if (!err) err = setopt(fd, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE);
  if (!err) err = setopt(fd, TCP_QUEUE_SEQ, (int)(uint32_t)(rec->u[3] >> 32));
  if (!err) err = setopt(fd, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE);
  if (!err) err = setopt(fd, TCP_QUEUE_SEQ, (int)(uint32_t)rec->u[3]);
  if (!err) err = amber_sys3(SYS_bind, fd, rec->addr, rec->addr_len);
  if (!err) err = amber_sys3(SYS_connect, fd, rec->addr + AMBER_SOCK_PEER_OFF, peer_len);
  if (!err)
    err = amber_sys5(SYS_setsockopt, fd, IPPROTO_TCP, TCP_REPAIR_OPTIONS, opts,
                     nopts * sizeof opts[0]);
  if (!err && (tcpi & TCPI_OPT_TIMESTAMPS))
    err = setopt(fd, TCP_TIMESTAMP, (int)(uint32_t)(o >> 32));
  if (!err) err = refill(fd, TCP_RECV_QUEUE, bytes + out_len, rec->data_len - out_len);
  if (!err) err = refill(fd, TCP_SEND_QUEUE, bytes, out_len);
  if (!err) err = amber_sys5(SYS_setsockopt, fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, &win, sizeof win);
  if (!err) err = setopt(fd, TCP_REPAIR_QUEUE, TCP_NO_QUEUE);
  /* Still in repair mode: it leaves it once the application goes on (amber_fd_tcp_release). */
  if (err) {
    amber_sys1(SYS_close, fd);
    return err < 0 ? (int)err : -EIO;
  }
  return fd;
}
