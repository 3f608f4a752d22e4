/* Input not read yet on a slave in canonical mode: complete lines, and the line still being
 * typed. n_tty (drivers/tty/n_tty.c) lets a reader have only complete lines, one a read; when
 * ICANON is switched off it forgets where the lines end (read_flags cleared, canon_head back
 * to read_tail) and everything it holds becomes readable; switched on again with the buffer
 * empty, it starts clean. So the master's owner, once every process is frozen, reads the
 * complete lines in canonical mode (how each ended: a newline or VEOL/VEOL2 byte that the read
 * returns, or EOF, whose marker it does not), then with ICANON off the line being typed, gives
 * the slave its modes back and types it all again through the master, as a restore does into
 * the new pseudo-terminal: with the line discipline's special characters off but a line end,
 * EOF and a literal-next (LNEXT) for bytes that would be special, no signals, no translation,
 * no output processing, and echo on, so that the echo coming back to the master (read away,
 * never given to the program) says when the line discipline has taken the last byte. Output
 * the master's holder has not read is put back after it, as pty_bytes.c does.
 * Kept exactly but for the line discipline's state within a line: a pending LNEXT and an
 * ECHOPRT erase in progress are forgotten, and the echo's column starts anew.
 * Refused, named: a terminal whose output is stopped (^S: the echo could not come back), a
 * master in packet mode with a status not read yet, lines ended by more than two different
 * characters, a line ended by EOF last when the terminal has no EOF character now.
 * Record (the master's): after the output bytes, entries (struct line, then its bytes). */
#include <asm/termbits.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>

#include "fd_kinds.h"

enum { TYPED = 0 /* no end yet */, BYTE_END = 1 /* its last byte */, EOF_END = 2 };

struct line {
  uint16_t len;
  uint8_t end;
  uint8_t pad;
}; /* then len bytes, unaligned */

#define MAX_LINE 4096 /* n_tty's buffer */

int amber_pty_canonical(const struct termios2 *m) {
  return (m->c_lflag & ICANON) && !(m->c_lflag & EXTPROC);
}

static int ends_line(const struct termios2 *m, const unsigned char *p, long n) {
  if (n <= 0) return 0;
  unsigned char c = p[n - 1];
  return c == '\n' || (m->c_cc[VEOL] && c == m->c_cc[VEOL]) ||
         ((m->c_lflag & IEXTEN) && m->c_cc[VEOL2] && c == m->c_cc[VEOL2]);
}

/* One read of the (non-blocking) slave as an entry appended to the agent's buffer: its size,
 * 0 when nothing was readable, or -errno. `typed`: the line being typed (ICANON off). */
static long read_entry(int slave, const struct termios2 *m, int typed, char **start) {
  char *p = amber_fd_buffer(sizeof(struct line) + MAX_LINE);
  if (!p) return -ENOBUFS;
  if (!*start) *start = p;
  long n = amber_sys3(SYS_read, slave, p + sizeof(struct line), MAX_LINE);
  if (n < 0 || (typed && n == 0)) {
    amber_ckpt.fd_buffer_used -= sizeof(struct line) + MAX_LINE;
    return n == -EAGAIN || n == -EIO ? 0 : n;
  }
  struct line l = {(uint16_t)n, TYPED, 0};
  if (!typed) l.end = ends_line(m, (unsigned char *)p + sizeof l, n) ? BYTE_END : EOF_END;
  memcpy(p, &l, sizeof l);
  amber_ckpt.fd_buffer_used -= MAX_LINE - n;
  return (long)sizeof l + n;
}

long amber_pty_read_lines(int slave, const struct termios2 *modes, char **start) {
  long total = 0, n;
  int lines = 0;
  /* A read that finds no line waits for the bytes still on their way into the line
   * discipline (tty_buffer_flush_work): none are left once one returns nothing. */
  while ((n = read_entry(slave, modes, 0, start)) > 0 && lines++ < MAX_LINE) total += n;
  if (lines > MAX_LINE) return -EIO; /* a hung-up terminal reads as ends of file forever */
  if (n < 0) return n;
  struct termios2 raw = *modes;
  raw.c_lflag &= ~ICANON;
  long err = amber_sys3(SYS_ioctl, slave, TCSETS2, &raw);
  if (!err) {
    while ((n = read_entry(slave, modes, 1, start)) > 0) total += n;
    if (n < 0) err = n;
  }
  long back = amber_sys3(SYS_ioctl, slave, TCSETS2, modes); /* the buffer empty: a clean start */
  return err ? err : back ? back : total;
}

/* A character for feed's own use: none that a line ends with, nor flow control. */
static unsigned char pick(const unsigned char *taken, int ntaken, unsigned char wish) {
  for (int c = wish;; c = c == 255 ? 1 : c + 1) {
    int used = c == '\n';
    for (int i = 0; i < ntaken && !used; i++) used = taken[i] == c;
    if (!used) return (unsigned char)c;
  }
}

struct feed {
  struct termios2 modes;
  unsigned char special[256]; /* bytes a line's content must have LNEXT before */
  uint64_t echo, line_bytes;  /* what comes back; FIONREAD once every line ended is in */
};

static int plan(const struct termios2 *m, const char *in, uint64_t len, struct feed *f) {
  unsigned char taken[6];
  int ntaken = 0, eols = 0, last_bare_eof = 0;
  f->echo = f->line_bytes = 0;
  for (uint64_t off = 0; off < len;) {
    struct line l;
    memcpy(&l, in + off, sizeof l);
    const unsigned char *p = (const unsigned char *)in + off + sizeof l;
    unsigned char c = l.len ? p[l.len - 1] : 0;
    if (l.end == BYTE_END && c != '\n') {
      int known = 0;
      for (int i = 0; i < eols; i++) known |= taken[i] == c;
      if (!known && eols == 2) return -EINVAL;
      if (!known) taken[ntaken++] = c, eols++;
    }
    f->echo += l.len;
    if (l.end != TYPED) f->line_bytes += l.len;
    last_bare_eof = l.end == EOF_END && !l.len;
    off += sizeof l + l.len;
  }
  f->modes = *m;
  struct termios2 *t = &f->modes;
  int ixon = (m->c_iflag & IXON) != 0; /* kept: switching it would start a stopped output */
  t->c_iflag &= IXON;
  t->c_oflag &= ~OPOST;
  t->c_lflag = ICANON | ECHO | IEXTEN;
  unsigned char start = m->c_cc[VSTART], stop = m->c_cc[VSTOP];
  memset(t->c_cc, 0, sizeof t->c_cc); /* 0: disabled */
  t->c_cc[VMIN] = m->c_cc[VMIN];
  t->c_cc[VTIME] = m->c_cc[VTIME];
  if (eols > 0) t->c_cc[VEOL] = taken[0];
  if (eols > 1) t->c_cc[VEOL2] = taken[1];
  if (ixon) {
    t->c_cc[VSTART] = start, t->c_cc[VSTOP] = stop;
    if (start) taken[ntaken++] = start;
    if (stop) taken[ntaken++] = stop;
  }
  /* EOF: the terminal's own where it can be, so that one typed last and taken in only after
   * the modes are back (it has no echo to wait for) ends its line the same way. */
  unsigned char eof = pick(taken, ntaken, m->c_cc[VEOF] ? m->c_cc[VEOF] : 4);
  if (last_bare_eof && eof != m->c_cc[VEOF]) return -ENOTTY;
  taken[ntaken++] = eof;
  t->c_cc[VEOF] = eof;
  t->c_cc[VLNEXT] = pick(taken, ntaken, 0x16);
  memset(f->special, 0, sizeof f->special);
  for (int i = 0; i < ntaken; i++) f->special[taken[i]] = 1;
  f->special['\n'] = f->special[t->c_cc[VLNEXT]] = 1;
  f->special[0] = 0;
  return 0;
}

/* Types the entries through the master, as planned. */
static int type_lines(int master, const struct feed *f, const char *in, uint64_t len) {
  char out[512];
  int used = 0, err = 0;
  for (uint64_t off = 0; off < len && !err;) {
    struct line l;
    memcpy(&l, in + off, sizeof l);
    const unsigned char *p = (const unsigned char *)in + off + sizeof l;
    uint16_t content = l.end == BYTE_END ? l.len - 1 : l.len;
    for (uint32_t i = 0; i <= content && !err; i++) {
      if (used > (int)sizeof out - 2) err = amber_pty_write_all(master, out, used), used = 0;
      if (i < content) {
        if (f->special[p[i]]) out[used++] = (char)f->modes.c_cc[VLNEXT];
        out[used++] = (char)p[i];
      } else if (l.end == BYTE_END) {
        out[used++] = (char)p[content];
      } else if (l.end == EOF_END) {
        out[used++] = (char)f->modes.c_cc[VEOF];
      }
    }
    off += sizeof l + l.len;
  }
  return err ? err : used ? amber_pty_write_all(master, out, used) : 0;
}

/* Reads away `len` bytes of echo from the master, and waits until the lines are in. */
static int settle(int master, int slave, const struct feed *f) {
  char away[512];
  for (uint64_t got = 0; got < f->echo;) {
    struct pollfd p = {master, POLLIN, 0};
    struct timespec wait = {5, 0};
    long n = amber_sys5(SYS_ppoll, &p, 1, &wait, 0, 8);
    if (n <= 0) return n < 0 ? (int)n : -ETIMEDOUT;
    uint64_t want = f->echo - got;
    n = amber_sys3(SYS_read, master, away, want < sizeof away ? want : sizeof away);
    if (n <= 0) return n < 0 ? (int)n : -EIO;
    got += (uint64_t)n;
  }
  for (int i = 0; i < 5000; i++) { /* a line ended by EOF has no echo of its end */
    int queued = 0;
    amber_sys3(SYS_ioctl, slave, FIONREAD, &queued);
    if ((uint64_t)queued >= f->line_bytes) return 0;
    struct timespec ms = {0, 1000000};
    amber_sys2(SYS_nanosleep, &ms, 0);
  }
  return -ETIMEDOUT;
}

const char *amber_pty_lines_refused(int err) {
  return err == -EINVAL   ? "in lines ended by more than two different characters"
         : err == -ENOTTY ? "in a line ended by EOF, the terminal having no EOF character now"
                          : 0;
}

int amber_pty_can_echo(int slave) {
  struct pollfd p = {slave, POLLOUT, 0};
  struct timespec now = {0, 0};
  return amber_sys5(SYS_ppoll, &p, 1, &now, 0, 8) == 1;
}

int amber_pty_feed_lines(int master, int slave, const struct termios2 *modes, const char *out,
                         uint64_t out_len, const char *in, uint64_t in_len) {
  struct feed f;
  int err = plan(modes, in, in_len, &f);
  if (err) return err;
  if (!amber_pty_can_echo(slave)) return -EAGAIN;
  err = (int)amber_sys3(SYS_ioctl, slave, TCSETS2, &f.modes);
  if (!err) err = type_lines(master, &f, in, in_len);
  if (!err) err = settle(master, slave, &f);
  if (!err && out_len) err = amber_pty_write_all(slave, out, out_len); /* no output processing yet */
  long back = amber_sys3(SYS_ioctl, slave, TCSETS2, modes);
  return err ? err : (int)back;
}
