/* A socket's credentials carry a pid: a Unix socket's peer (getsockopt SO_PEERCRED), and the
 * SCM_CREDENTIALS messages that sendmsg and recvmsg (wrap_net.c) carry. The program sees and
 * sends virtual pids; a process outside the application reads 0, as one outside a pid
 * namespace does. getsockopt and recvmsg are hot: they look at nothing else. sendmmsg and
 * recvmmsg carry the same messages, several at a time. */
#include <pthread.h>
#include <sys/socket.h>

#include "../core/amber.h"
#include "creds_copy.h"

AMBER_EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len) {
  int r = REAL(getsockopt)(fd, level, name, val, len);
  if (name == SO_PEERCRED && level == SOL_SOCKET && r == 0 && amber_active() && val &&
      *len >= sizeof(pid_t))
    ((struct ucred *)val)->pid = amber_who_out(((struct ucred *)val)->pid);
  return r;
}

/* The credentials a control message holds, or NULL (also trap_creds.c's). */
struct ucred *amber_creds_at(struct cmsghdr *c) {
  if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_CREDENTIALS ||
      c->cmsg_len < CMSG_LEN(sizeof(struct ucred)))
    return NULL;
  return (struct ucred *)CMSG_DATA(c);
}

void amber_creds_out(struct msghdr *msg) {
  for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
    struct ucred *u = amber_creds_at(c);
    if (u) u->pid = amber_who_out(u->pid);
  }
}

static void many_dropped(void *c) { amber_creds_many_done(c, NULL, 0); } /* a cancelled call's */

/* From a copy (creds_copy.c); the messages before the first whose pid names no process are sent,
 * as the raw call's (kernel/trap_creds.c). */
AMBER_EXPORT int sendmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags) {
  if (!v || !amber_active()) return REAL(sendmmsg)(fd, v, n, flags);
  struct amber_creds_many c;
  struct mmsghdr *w;
  int err, r;
  unsigned ok = amber_creds_copy_many(&c, v, n, &w, &err);
  pthread_cleanup_push(many_dropped, &c);
  r = err && !ok ? (errno = err, -1) : REAL(sendmmsg)(fd, w, ok, flags);
  pthread_cleanup_pop(0);
  amber_creds_many_done(&c, v, r);
  return r;
}

AMBER_EXPORT int recvmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags,
                          struct timespec *timeout) {
  int r = REAL(recvmmsg)(fd, v, n, flags, timeout);
  for (int i = 0; i < r && amber_active(); i++)
    if (v[i].msg_hdr.msg_controllen) amber_creds_out(&v[i].msg_hdr);
  return r;
}
