/* setsockopt through libc: a multicast membership change is made and noted (mcast_note.c) in
 * one critical section, so that no snapshot falls between the kernel's change and the note.
 * Made past the seccomp filter, which traps these options (and the multicast hop limits and
 * loopback, in the same ranges) only to note a raw call's (kernel/trap_creds.c); every other
 * option goes straight to libc. A source filter set whole (setsourcefilter,
 * setipv4sourcefilter: libc's own setsockopt, which only the filter sees) is noted here when
 * there is no filter, for the snapshot to refuse it. */
#include <netinet/in.h>
#include <sys/socket.h>

#include "../core/amber.h"
#include "mcast_note.h"

AMBER_EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len) {
  if (!amber_active() || !amber_seccomp_mcast_sockopt(level, name))
    return REAL(setsockopt)(fd, level, name, val, len);
  amber_enter(); /* the hop limits and loopback too: no trap for what there is no note of */
  long r = amber_sys5(SYS_setsockopt, fd, level, name, val, len);
  if (r == 0) amber_mcast_note(fd, level, name, val, len);
  amber_leave();
  return (int)amber_libc_ret(r);
}

static int filter_noted(int r, int fd, int level, int name) {
  static const char whole = 1; /* what the note keeps of it does not matter: it is refused */
  if (r == 0 && amber_active() && !amber_seccomp_layer) amber_mcast_note(fd, level, name, &whole, 1);
  return r;
}

AMBER_EXPORT int setsourcefilter(int fd, uint32_t iface, const struct sockaddr *group,
                                 socklen_t len, uint32_t mode, uint32_t n,
                                 const struct sockaddr_storage *sources) {
  int r = REAL(setsourcefilter)(fd, iface, group, len, mode, n, sources);
  return filter_noted(r, fd, group && group->sa_family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP,
                      MCAST_MSFILTER);
}

AMBER_EXPORT int setipv4sourcefilter(int fd, struct in_addr iface, struct in_addr group,
                                     uint32_t mode, uint32_t n, const struct in_addr *sources) {
  int r = REAL(setipv4sourcefilter)(fd, iface, group, mode, n, sources);
  return filter_noted(r, fd, IPPROTO_IP, IP_MSFILTER);
}
