/* The bytes a pseudo-terminal holds not read yet, both ways: output the slave side wrote that
 * the master's holder has not read, and input typed on the master that the slave's reader has
 * not read. A terminal cannot be peeked, so the master's owner, once every process is frozen,
 * reads them out and puts them straight back, through the other end, with the line discipline
 * told to leave them as they are (no output processing, no echo, no signals, no translation);
 * a restore puts them into the new pseudo-terminal the same way, before the program runs.
 * Input on a slave in canonical mode is lines, and the line being typed: pty_lines.c.
 * Kept only where that is exact; refused by name otherwise: output on a master in packet mode.
 * (A master's own line discipline is always raw: termios calls on it reach the slave's.)
 * Record (the master's): data/data_len the output bytes then the input bytes (or pty_lines.c's
 * entries, with AMBER_PTY_LINES in u[3]); nmsgs how many of them are output. */
#include <asm/termbits.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>

#include "fd_kinds.h"

static int refuse(const struct amber_fd_rec *rec, const char *why) {
  amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
            "descriptor %d (%s) has bytes not read yet %s, which Amber cannot save yet", rec->fd,
            rec->path, why);
  return -1;
}

/* Everything readable on fd now (non-blocking), appended to the agent's buffer. */
static long drain(int fd, char **start) {
  long total = 0;
  for (;;) {
    char *p = amber_fd_buffer(4096);
    if (!p) return -ENOBUFS;
    if (!*start) *start = p;
    long n = amber_sys3(SYS_read, fd, p, 4096);
    if (n <= 0) {
      amber_ckpt.fd_buffer_used -= 4096;
      return n == -EAGAIN || n == 0 || n == -EIO ? total : n;
    }
    amber_ckpt.fd_buffer_used -= 4096 - n; /* the next read follows on */
    total += n;
  }
}

int amber_pty_write_all(int fd, const char *p, uint64_t len) {
  for (uint64_t done = 0; done < len;) {
    long n = amber_sys3(SYS_write, fd, p + done, len - done);
    if (n <= 0) return n < 0 ? (int)n : -EIO;
    done += n;
  }
  return 0;
}

/* Writes the output bytes through the slave with no output processing, and the input bytes
 * through the master with the slave taking them raw; waits until the slave has taken them in
 * (the line discipline does so a moment later), then gives the slave its modes back. */
static int put_back(int master, int slave, const struct termios2 *modes, const char *out,
                    uint64_t out_len, const char *in, uint64_t in_len) {
  struct termios2 raw = *modes;
  raw.c_oflag &= ~OPOST;
  raw.c_iflag = 0;
  raw.c_lflag &= ~(ECHO | ECHONL | ISIG | IEXTEN);
  long err = amber_sys3(SYS_ioctl, slave, TCSETS2, &raw);
  if (!err && out_len) err = amber_pty_write_all(slave, out, out_len);
  if (!err && in_len) err = amber_pty_write_all(master, in, in_len);
  for (int i = 0; !err && in_len && i < 1000; i++) {
    int queued = 0;
    amber_sys3(SYS_ioctl, slave, FIONREAD, &queued);
    if ((uint64_t)queued >= in_len) break;
    struct timespec ms = {0, 1000000};
    amber_sys2(SYS_nanosleep, &ms, 0);
  }
  long back = amber_sys3(SYS_ioctl, slave, TCSETS2, modes);
  return (int)(err ? err : back);
}

static int own_slave(int master) {
  return (int)amber_sys3(SYS_ioctl, master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
}

/* A slave in canonical mode: its lines and the line being typed are read out and typed again
 * (pty_lines.c); the master's packet mode is off meanwhile, so that the echo that says when
 * they are in is read as it is. */
static int save_lines(struct amber_fd_rec *rec, int slave, const struct termios2 *modes, int pkt) {
  struct pollfd status = {rec->fd, POLLPRI, 0};
  struct timespec now = {0, 0};
  const char *why = 0;
  if (pkt && amber_sys5(SYS_ppoll, &status, 1, &now, 0, 8) == 1)
    why = "(perhaps) typed on a terminal in canonical mode whose master in packet mode has a "
          "status not read yet";
  else if (!amber_pty_can_echo(slave)) /* checked before anything is taken out */
    why = "(perhaps) typed on a terminal in canonical mode whose output is stopped (^S) or "
          "full, which would hold back their echo";
  if (why) {
    amber_sys1(SYS_close, slave);
    return refuse(rec, why);
  }
  int off = 0, flags = (int)amber_sys2(SYS_fcntl, rec->fd, F_GETFL);
  if (pkt) amber_sys3(SYS_ioctl, rec->fd, TIOCPKT, &off);
  amber_sys3(SYS_fcntl, rec->fd, F_SETFL, flags | O_NONBLOCK);
  char *out = 0, *in = 0;
  long out_len = drain(rec->fd, &out), in_len = 0;
  amber_sys3(SYS_fcntl, rec->fd, F_SETFL, flags);
  int err = 0;
  if (out_len >= 0) in_len = amber_pty_read_lines(slave, modes, &in);
  if (out_len >= 0 && in_len >= 0) {
    rec->data = (uint64_t)(out ? out : in);
    rec->data_len = (uint64_t)(out_len + in_len);
    rec->nmsgs = (uint32_t)out_len;
    rec->u[3] |= AMBER_PTY_LINES;
  }
  if (out_len > 0 && in_len <= 0) /* the output alone: as it came, unless unread */
    err = put_back(rec->fd, slave, modes, out, (uint64_t)out_len, 0, 0);
  else if (in_len > 0)
    err = amber_pty_feed_lines(rec->fd, slave, modes, out, out_len > 0 ? (uint64_t)out_len : 0, in,
                               (uint64_t)in_len);
  if (pkt) amber_sys3(SYS_ioctl, rec->fd, TIOCPKT, &pkt);
  amber_sys1(SYS_close, slave);
  if (out_len < 0 || in_len < 0) return refuse(rec, "that could not be read");
  if (amber_pty_lines_refused(err)) return refuse(rec, amber_pty_lines_refused(err));
  if (err) return refuse(rec, "that could not be put back");
  return 0;
}

int amber_pty_save_bytes(struct amber_fd_rec *rec) {
  int slave = own_slave(rec->fd);
  if (slave < 0) return 0; /* no slave can be opened: nobody could have written or read */
  struct termios2 modes;
  int pkt = 0, in_queued = 0, out_queued = 0, err = 0;
  amber_sys3(SYS_ioctl, slave, TCGETS2, &modes);
  amber_sys3(SYS_ioctl, rec->fd, TIOCGPKT, &pkt);
  amber_sys3(SYS_ioctl, slave, FIONREAD, &in_queued);
  amber_sys3(SYS_ioctl, rec->fd, FIONREAD, &out_queued);
  if (out_queued > 0 && pkt) /* reads carry a status byte: not the bytes as written */
    err = refuse(rec, "on a master in packet mode");
  else if (amber_pty_canonical(&modes))
    return save_lines(rec, slave, &modes, pkt);
  if (err || (in_queued <= 0 && out_queued <= 0)) {
    amber_sys1(SYS_close, slave);
    return err;
  }
  /* The master's own description, non-blocking for the time of the reads. */
  int flags = (int)amber_sys2(SYS_fcntl, rec->fd, F_GETFL);
  amber_sys3(SYS_fcntl, rec->fd, F_SETFL, flags | O_NONBLOCK);
  char *out = 0, *in = 0;
  long out_len = drain(rec->fd, &out);
  long in_len = out_len < 0 ? 0 : drain(slave, &in);
  amber_sys3(SYS_fcntl, rec->fd, F_SETFL, flags);
  if (out_len >= 0 && in_len >= 0) {
    /* One run in the buffer: the input follows the output (drain appends). */
    rec->data = (uint64_t)(out ? out : in);
    rec->data_len = (uint64_t)(out_len + in_len);
    rec->nmsgs = (uint32_t)out_len;
  }
  int back = put_back(rec->fd, slave, &modes, out, out_len > 0 ? (uint64_t)out_len : 0, in,
                      in_len > 0 ? (uint64_t)in_len : 0);
  amber_sys1(SYS_close, slave);
  if (out_len < 0 || in_len < 0) return refuse(rec, "that could not be read");
  if (back) return refuse(rec, "that could not be put back");
  return 0;
}

int amber_pty_refill(const struct amber_fd_rec *rec, int master, int slave) {
  if (!rec->data_len) return 0;
  struct termios2 modes;
  if (amber_sys3(SYS_ioctl, slave, TCGETS2, &modes) < 0) return -EIO;
  const char *bytes = (const char *)rec->data;
  if (rec->u[3] & AMBER_PTY_LINES && rec->data_len > rec->nmsgs)
    return amber_pty_feed_lines(master, slave, &modes, bytes, rec->nmsgs, bytes + rec->nmsgs,
                                rec->data_len - rec->nmsgs);
  return put_back(master, slave, &modes, bytes, rec->nmsgs, bytes + rec->nmsgs,
                  rec->data_len - rec->nmsgs);
}
