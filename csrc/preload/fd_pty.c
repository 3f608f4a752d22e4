/* Pseudo-terminals. The launcher's terminal is a standard stream (reattached to the restoring
 * command's). Any other one cannot be saved yet: a master (/dev/ptmx) or a slave (/dev/pts/N)
 * of a pseudo-terminal made inside the application (a terminal multiplexer, `script`), or
 * another terminal opened by name, which after a restore would name whatever terminal has that
 * number then. The snapshot fails, naming the descriptor and the terminal. */
#include <sys/ioctl.h>
#include <sys/sysmacros.h>

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

int amber_fd_pty_capture(struct amber_fd_rec *rec, const char *target, const struct stat *st) {
  if (is_master(st)) {
    int n = -1;
    amber_sys3(SYS_ioctl, rec->fd, TIOCGPTN, &n);
    amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
              "descriptor %d (%s) is the master of pseudo-terminal /dev/pts/%d, made inside the "
              "application, which Amber cannot save yet",
              rec->fd, target, n);
  } else {
    amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
              "descriptor %d is pseudo-terminal %s, not the launcher's terminal, which Amber "
              "cannot save yet",
              rec->fd, target);
  }
  return -1;
}
