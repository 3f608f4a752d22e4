/* setsockopt through libc: a multicast membership change is made and noted (mcast_note.c) in
 * one critical section, so that no snapshot falls between the kernel's change and the note.
 * Made past the seccomp filter, which traps these options only to note a raw call's
 * (kernel/trap_creds.c); every other option goes straight to libc. */
#include <sys/socket.h>

#include "../core/amber.h"
#include "mcast_note.h"

AMBER_EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len) {
  if (!amber_active() || !amber_mcast_option(level, name))
    return REAL(setsockopt)(fd, level, name, val, len);
  amber_enter();
  long r = amber_sys5(SYS_setsockopt, fd, level, name, val, len);
  if (r == 0) amber_mcast_note(fd, level, name, val, len);
  amber_leave();
  return (int)amber_libc_ret(r);
}
