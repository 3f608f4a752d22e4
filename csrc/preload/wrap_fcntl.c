/* fcntl: what it reports of other processes is made virtual (lock_view.c for F_GETLK). Both
 * names: a program built with 64-bit offsets calls fcntl64. */
#include <stdarg.h>

#include "amber.h"
#include "lock_view.h"

static int fcntl_with(int (*real)(int, int, ...), int fd, int cmd, void *arg) {
  int r = real(fd, cmd, arg);
  return amber_lock_query_result(r, cmd, arg);
}

#define ARG(cmd)                                                                                 \
  va_list ap;                                                                                    \
  va_start(ap, cmd);                                                                             \
  void *arg = va_arg(ap, void *); /* as glibc reads it, whatever the command */                 \
  va_end(ap)

AMBER_EXPORT int fcntl(int fd, int cmd, ...) {
  ARG(cmd);
  return fcntl_with(REAL(fcntl), fd, cmd, arg);
}

AMBER_EXPORT int fcntl64(int fd, int cmd, ...) {
  ARG(cmd);
  return fcntl_with(REAL(fcntl64), fd, cmd, arg);
}
