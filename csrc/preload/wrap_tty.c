/* Wrappers for the calls that hand a terminal's foreground process group or session across as
 * a pid (tcsetpgrp, tcgetpgrp, tcgetsid and their ioctls): a shell with job control gives and
 * reads virtual ones. glibc's tc* functions call its internal ioctl, so each is wrapped. */
#include <errno.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <termios.h>

#include "amber.h"

static pid_t out(pid_t spid) {
  if (spid <= 0) return spid;
  int32_t v = amber_pid_s2v(spid);
  return v < 0 ? spid : v; /* a group outside the application keeps its system ID */
}

AMBER_EXPORT int tcsetpgrp(int fd, pid_t pgrp) {
  if (!amber_active()) return REAL(tcsetpgrp)(fd, pgrp);
  int32_t s = pgrp > 0 ? amber_pid_v2s(pgrp) : pgrp;
  if (s < 0 && pgrp > 0) {
    errno = ESRCH;
    return -1;
  }
  return REAL(tcsetpgrp)(fd, s);
}

AMBER_EXPORT pid_t tcgetpgrp(int fd) {
  pid_t r = REAL(tcgetpgrp)(fd);
  return amber_active() ? out(r) : r;
}

AMBER_EXPORT pid_t tcgetsid(int fd) {
  pid_t r = REAL(tcgetsid)(fd);
  return amber_active() ? out(r) : r;
}

AMBER_EXPORT int ioctl(int fd, unsigned long request, ...) {
  va_list ap;
  va_start(ap, request);
  void *arg = va_arg(ap, void *);
  va_end(ap);
  if (!amber_active() || !arg || (request != TIOCSPGRP && request != TIOCGPGRP && request != TIOCGSID))
    return REAL(ioctl)(fd, request, arg);
  pid_t *pid = arg;
  if (request == TIOCSPGRP) return tcsetpgrp(fd, *pid);
  int r = REAL(ioctl)(fd, request, arg);
  if (r == 0) *pid = out(*pid);
  return r;
}
