/* Pseudo-terminals. The launcher's terminal is a standard stream (reattached to the restoring
 * command's). One made inside the application (a terminal multiplexer, `script`, a shell with
 * job control under it) comes back as a new pseudo-terminal (another number: /dev/pts/M) with
 * both ends, the slave's modes (termios), the window size, packet mode and lock; the session
 * that had it as its controlling terminal has it again, with the same foreground process group.
 * Bytes not read yet, both ways, are kept where that is exact (pty_bytes.c). Refused, named: a
 * slave whose master is not in the application (another terminal opened by name would name
 * whatever terminal has that number after a restore), and the bytes pty_bytes.c cannot keep.
 *
 * Record use: u[0] the number at the snapshot; u[1] 1 for the master; u[2] struct winsize;
 * u[3] packet mode | lock << 1 (| AMBER_PTY_LINES: pty_lines.c); u[4] 1: the controlling terminal of this process, a session
 * leader; u[5] then its foreground process group (virtual); addr the slave's struct termios2.
 * The master's owner makes the pseudo-terminal in phase 1 and offers both ends under
 * AMBER_KEY_PTY; every slave description opens it again in phase 2. */
#include <asm/termbits.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>

#include "../../common/errno_name.h"
#include "../../common/broker.h"
#include "../agent/agent_share.h"
#include "fd_kinds.h"

#define PTMX_MAJOR 5
#define PTMX_MINOR 2
#define PTS_MAJOR_FIRST 136 /* UNIX98_PTY_SLAVE_MAJOR, and the 7 after it */
#define PTS_MAJOR_LAST 143

static int is_master(const struct stat *st) {
  return major(st->st_rdev) == PTMX_MAJOR && minor(st->st_rdev) == PTMX_MINOR;
}

int amber_fd_is_pty(const struct stat *st) {
  unsigned m = major(st->st_rdev);
  return S_ISCHR(st->st_mode) && (is_master(st) || (m >= PTS_MAJOR_FIRST && m <= PTS_MAJOR_LAST));
}

static int refuse(const struct amber_fd_rec *rec, const char *why) {
  amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error, "descriptor %d (%s) %s", rec->fd,
            rec->path, why);
  return -1;
}

/* The slave's modes and window size, read through `slave`. */
static void save_modes(struct amber_fd_rec *rec, int slave) {
  struct termios2 t;
  if (amber_sys3(SYS_ioctl, slave, TCGETS2, &t) == 0) memcpy(rec->addr, &t, sizeof t);
  rec->addr_len = sizeof t;
  struct winsize ws = {0};
  amber_sys3(SYS_ioctl, slave, TIOCGWINSZ, &ws);
  memcpy(&rec->u[2], &ws, sizeof ws);
}

/* Is the slave this process's controlling terminal, and this process its session's leader? */
static int controls(const struct stat *st) {
  static char stat_text[1024];
  if (amber_sys1(SYS_getsid, 0) != amber_sys_getpid()) return 0;
  if (amber_read_file("/proc/thread-self/stat", stat_text, sizeof stat_text) <= 0) return 0;
  const char *p = strrchr(stat_text, ')');
  for (int field = 2; p && field < 7; field++) p = strchr(p + 1, ' ');
  uint64_t tty_nr;
  if (!p || (p++, amber_parse_u64(&p, &tty_nr, 10))) return 0;
  unsigned mj = (tty_nr >> 8) & 0xfff, mn = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
  return mj == major(st->st_rdev) && mn == minor(st->st_rdev);
}

int amber_fd_pty_capture(struct amber_fd_rec *rec, const char *target, const struct stat *st) {
  rec->kind = AMBER_FD_PTY;
  rec->ino = st->st_ino;
  if (is_master(st)) {
    int n = -1, pkt = 0, lock = 0;
    amber_sys3(SYS_ioctl, rec->fd, TIOCGPTN, &n);
    amber_sys3(SYS_ioctl, rec->fd, TIOCGPKT, &pkt);
    amber_sys3(SYS_ioctl, rec->fd, TIOCGPTLCK, &lock);
    rec->u[0] = (uint64_t)n;
    rec->u[1] = 1;
    rec->u[3] = (pkt != 0) | (uint64_t)(lock != 0) << 1;
    amber_fmt(rec->path, sizeof rec->path, "master of pseudo-terminal /dev/pts/%d", n);
    int slave = (int)amber_sys3(SYS_ioctl, rec->fd, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave >= 0) {
      save_modes(rec, slave);
      amber_sys1(SYS_close, slave);
    }
    return 0;
  }
  rec->u[0] = (uint64_t)(minor(st->st_rdev) + (major(st->st_rdev) - PTS_MAJOR_FIRST) * 256);
  amber_fmt(rec->path, sizeof rec->path, "%s", target);
  save_modes(rec, rec->fd);
  if (controls(st)) {
    int32_t pgrp = 0;
    amber_sys3(SYS_ioctl, rec->fd, TIOCGPGRP, &pgrp);
    rec->u[4] = 1;
    rec->u[5] = (uint64_t)(uint32_t)(pgrp > 0 ? amber_s2v(amber.table, AMBER_KIND_PID, pgrp) : 0);
  }
  return 0;
}

/* Once every process is frozen: the master must be in the application (its owner keeps the
 * bytes not read yet, after the share scan: pty_bytes.c). */
int amber_fd_pty_frozen(struct amber_fd_rec *rec) {
  if (!rec->u[1]) {
    const struct amber_share *s = &amber.table->share;
    int inside = 0;
    for (uint32_t i = 0; i < s->n && !inside; i++) inside = s->fds[i].tty == (int32_t)rec->u[0] + 1;
    /* The launcher's terminal, opened again by name: reopened by name, as it always was. */
    for (int k = 0; k < 3 && !inside; k++)
      if (amber.table->std_ino[k] == (int64_t)rec->ino) {
        rec->kind = AMBER_FD_FILE;
        return 0;
      }
    if (!inside)
      return refuse(rec, "is a terminal other than the launcher's, whose master is not in the "
                         "application, which Amber cannot save yet");
  }
  return 0;
}

static int pty_frozen_bytes(struct amber_fd_rec *rec) {
  return rec->kind == AMBER_FD_PTY && rec->u[1] && amber_fd_owned(rec) ? amber_pty_save_bytes(rec)
                                                                        : 0;
}

int amber_fd_pty_needs_peer(const struct amber_fd_rec *rec) {
  return rec->kind == AMBER_FD_PTY && !rec->u[1];
}

static int make_master(const struct amber_fd_rec *rec, int floor) {
  uint64_t key = amber_key(AMBER_KEY_PTY, rec->u[0]);
  int master = amber_fd_park(
      (int)amber_sys4(SYS_openat, AT_FDCWD, "/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC, 0), floor);
  if (master < 0) return master;
  int unlock = 0, pkt = (int)(rec->u[3] & 1), lock = (int)(rec->u[3] >> 1 & 1);
  amber_sys3(SYS_ioctl, master, TIOCSPTLCK, &unlock);
  int slave = amber_fd_park(
      (int)amber_sys3(SYS_ioctl, master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC), floor);
  long err = slave < 0 ? slave : 0;
  if (!err && rec->addr_len == sizeof(struct termios2))
    err = amber_sys3(SYS_ioctl, slave, TCSETS2, rec->addr);
  if (!err) err = amber_sys3(SYS_ioctl, master, TIOCSWINSZ, &rec->u[2]);
  if (!err) err = amber_pty_refill(rec, master, slave);
  if (!err && pkt) err = amber_sys3(SYS_ioctl, master, TIOCPKT, &pkt);
  if (!err) err = amber_broker_put(key, 1, slave);
  if (!err && lock) err = amber_sys3(SYS_ioctl, master, TIOCSPTLCK, &lock);
  if (!err) err = amber_broker_put(key, 0, master);
  if (slave >= 0) amber_sys1(SYS_close, slave);
  if (err) {
    amber_sys1(SYS_close, master);
    return (int)err;
  }
  return amber_fd_place(master, rec);
}

/* A slave description of its own, from the master owner's; the session it controlled takes it
 * as its controlling terminal again, with its foreground process group. */
static int open_slave(const struct amber_fd_rec *rec, int floor) {
  int given = amber_broker_get(amber_key(AMBER_KEY_PTY, rec->u[0]), 1);
  if (given < 0) return given;
  char self[64];
  amber_fmt(self, sizeof self, "/proc/thread-self/fd/%d", given);
  int fd = amber_fd_park(
      (int)amber_sys4(SYS_openat, AT_FDCWD, self, (rec->flags & O_ACCMODE) | O_NOCTTY | O_CLOEXEC,
                      0),
      floor);
  amber_sys1(SYS_close, given);
  if (fd < 0) return fd;
  if (rec->u[4]) {
    long err = amber_sys3(SYS_ioctl, fd, TIOCSCTTY, 0);
    int32_t pgrp = rec->u[5] ? amber_v2s(amber.table, AMBER_KIND_PID, (int32_t)rec->u[5]) : -1;
    if (!err && pgrp > 0) err = amber_sys3(SYS_ioctl, fd, TIOCSPGRP, &pgrp);
    if (err) amber_log("pseudo-terminal on descriptor %d: controlling terminal not set (%s)",
                       rec->fd, amber_errno_name(err));
  }
  return amber_fd_place(fd, rec);
}

int amber_fd_pty_restore(struct amber_fd_rec *rec, int floor) {
  return rec->u[1] ? make_master(rec, floor) : open_slave(rec, floor);
}

static int pty_recognise(const char *target, const struct stat *st) {
  (void)target;
  return amber_fd_is_pty(st);
}

const struct amber_fd_ops amber_fd_pty_ops = {
    .name = "pseudo-terminal",
    .kinds = AMBER_FD_BIT(AMBER_FD_PTY),
    .recognise = pty_recognise,
    .capture = amber_fd_pty_capture,
    .frozen_peer = amber_fd_pty_frozen,
    .frozen = pty_frozen_bytes,
    .needs_peer = amber_fd_pty_needs_peer,
    .restore = amber_fd_pty_restore,
};
