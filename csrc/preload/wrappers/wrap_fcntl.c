/* fcntl and fcntl64 (the same call for programs built with 64-bit file offsets): the commands
 * that carry a pid are translated (fcntl_owner.c), and what F_GETLK reports of another process
 * is made virtual (lock_view.c); a directory notification (F_NOTIFY) is noted
 * (fds/dnotify_keep.c); every other command passes straight through. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>

#include "../core/amber.h"
#include "lock_view.h"

static int is_owner_cmd(int cmd) {
  return cmd == F_SETOWN || cmd == F_GETOWN || cmd == F_SETOWN_EX || cmd == F_GETOWN_EX;
}

static int fcntl_with(int (*real)(int, int, ...), int fd, int cmd, void *arg) {
  if (amber_active() && is_owner_cmd(cmd)) return amber_fcntl_owner(real, fd, cmd, arg);
  if (cmd == F_NOTIFY) { /* the kernel shows it nowhere: noted to be made again */
    int r = real(fd, cmd, arg);
    if (r == 0 && amber_active()) {
      int saved = errno;
      amber_dnotify_note(fd, (unsigned long)arg);
      errno = saved;
    }
    return r;
  }
  return amber_lock_query_result(real(fd, cmd, arg), cmd, arg);
}

#define ARG(cmd)                                                                                 \
  va_list ap;                                                                                    \
  va_start(ap, cmd);                                                                             \
  void *arg = va_arg(ap, void *); /* as glibc reads it: an int or a pointer */                  \
  va_end(ap)

AMBER_EXPORT int fcntl(int fd, int cmd, ...) {
  ARG(cmd);
  return fcntl_with(REAL(fcntl), fd, cmd, arg);
}

AMBER_EXPORT int fcntl64(int fd, int cmd, ...) {
  ARG(cmd);
  return fcntl_with(REAL(fcntl64), fd, cmd, arg);
}
