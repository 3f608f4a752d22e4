/* fcntl and fcntl64 (the same call for programs built with 64-bit file offsets): the commands
 * that carry a pid are translated (fcntl_owner.c); every other passes straight through. */
#include <fcntl.h>
#include <stdarg.h>

#include "amber.h"

static int is_owner_cmd(int cmd) {
  return cmd == F_SETOWN || cmd == F_GETOWN || cmd == F_SETOWN_EX || cmd == F_GETOWN_EX;
}

AMBER_EXPORT int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void *arg = va_arg(ap, void *); /* as glibc reads it: an int or a pointer */
  va_end(ap);
  if (amber_active() && is_owner_cmd(cmd)) return amber_fcntl_owner(REAL(fcntl), fd, cmd, arg);
  return REAL(fcntl)(fd, cmd, arg);
}

AMBER_EXPORT int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void *arg = va_arg(ap, void *);
  va_end(ap);
  if (amber_active() && is_owner_cmd(cmd)) return amber_fcntl_owner(REAL(fcntl64), fd, cmd, arg);
  return REAL(fcntl64)(fd, cmd, arg);
}
