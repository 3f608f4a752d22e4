/* ioctls that carry a pid: a socket's owner (FIOSETOWN, SIOCSPGRP, FIOGETOWN, SIOCGPGRP: a
 * negative one is a group) and a terminal's foreground group and session (TIOCSPGRP,
 * TIOCGPGRP, TIOCGSID). Every other request passes straight through, after one switch. */
#include <stdarg.h>
#include <sys/ioctl.h>

#include "../core/amber.h"

int amber_ioctl_has_pid(unsigned long req) {
  switch (req) {
  case FIOSETOWN:
  case SIOCSPGRP:
  case FIOGETOWN:
  case SIOCGPGRP:
  case TIOCSPGRP:
  case TIOCGPGRP:
  case TIOCGSID: return 1;
  }
  return 0;
}

int amber_ioctl_pid(int (*real)(int, unsigned long, ...), int fd, unsigned long req, void *arg) {
  int32_t *p = arg, s;
  int err = 0, r;
  if (!p) return real(fd, req, arg);
  amber_enter();
  if (req == FIOSETOWN || req == SIOCSPGRP || req == TIOCSPGRP) {
    err = req == TIOCSPGRP ? amber_who_in(*p, &s) : amber_pid_in(*p, &s);
    r = err ? -1 : real(fd, req, &s);
  } else {
    r = real(fd, req, arg);
    if (r == 0) *p = *p < 0 ? -amber_who_out(-*p) : amber_who_out(*p);
  }
  amber_leave();
  if (err) errno = -err;
  return r;
}

AMBER_EXPORT int ioctl(int fd, unsigned long req, ...) {
  va_list ap;
  va_start(ap, req);
  void *arg = va_arg(ap, void *);
  va_end(ap);
  if (amber_active() && amber_ioctl_has_pid(req)) return amber_ioctl_pid(REAL(ioctl), fd, req, arg);
  return REAL(ioctl)(fd, req, arg);
}
