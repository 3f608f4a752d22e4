/* The bytes a pseudo-terminal holds not read yet, both ways: output the slave side wrote that
 * the master's holder has not read, and input typed on the master that the slave's reader has
 * not read. A terminal cannot be peeked, so the master's owner, once every process is frozen,
 * reads them out and puts them straight back, through the other end, with the line discipline
 * told to leave them as they are (no output processing, no echo, no signals, no translation);
 * a restore puts them into the new pseudo-terminal the same way, before the program runs.
 * Kept only where that is exact; refused by name otherwise:
 *  - input on a slave in canonical mode: lines would have to be cut again, and a line still
 *    being typed cannot even be counted (it is not readable until its newline);
 *  - output on a master in packet mode. (A master's own line discipline is always raw: termios
 *    calls on it reach the slave's.)
 * Record (the master's): data/data_len the output bytes then the input bytes; nmsgs how many of
 * them are output. */
#include <asm/termbits.h>
#include <fcntl.h>
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

static int write_all(int fd, const char *p, uint64_t len) {
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
  if (!err && out_len) err = write_all(slave, out, out_len);
  if (!err && in_len) err = write_all(master, in, in_len);
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

int amber_pty_save_bytes(struct amber_fd_rec *rec) {
  int slave = own_slave(rec->fd);
  if (slave < 0) return 0; /* no slave can be opened: nobody could have written or read */
  struct termios2 modes;
  int pkt = 0, in_queued = 0, out_queued = 0, err = 0;
  amber_sys3(SYS_ioctl, slave, TCGETS2, &modes);
  amber_sys3(SYS_ioctl, rec->fd, TIOCGPKT, &pkt);
  amber_sys3(SYS_ioctl, slave, FIONREAD, &in_queued);
  amber_sys3(SYS_ioctl, rec->fd, FIONREAD, &out_queued);
  if (in_queued > 0 && (modes.c_lflag & ICANON))
    err = refuse(rec, "typed on a terminal in canonical mode (lines)");
  else if (out_queued > 0 && pkt) /* reads carry a status byte: not the bytes as written */
    err = refuse(rec, "on a master in packet mode");
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
  return put_back(master, slave, &modes, bytes, rec->nmsgs, bytes + rec->nmsgs,
                  rec->data_len - rec->nmsgs);
}
