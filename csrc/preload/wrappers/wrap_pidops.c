/* Capabilities, pidfds, another process's memory and a terminal's foreground group, named by
 * virtual IDs. */
#include <sys/pidfd.h>
#include <sys/uio.h>
#include <termios.h>
#include <unistd.h>

#include "../core/amber.h"

/* capget and capset name the process in their header (linux/capability.h); 0 is the caller. */
struct cap_header {
  uint32_t version;
  int32_t pid;
};

static int cap_call(int (*real)(void *, void *), void *header, void *data) {
  struct cap_header *h = header;
  if (!amber_active() || !h || h->pid <= 0) return real(header, data);
  struct cap_header copy = *h;
  amber_enter();
  int err = amber_who_in(h->pid, &copy.pid);
  int r = err ? (errno = -err, -1) : real(&copy, data);
  amber_leave();
  h->version = copy.version; /* the kernel says here which version it prefers */
  return r;
}

AMBER_EXPORT int capget(void *header, void *data) { return cap_call(REAL(capget), header, data); }

AMBER_EXPORT int capset(void *header, const void *data) {
  return cap_call((int (*)(void *, void *))REAL(capset), header, (void *)data);
}

AMBER_EXPORT int pidfd_open(pid_t pid, unsigned int flags) {
  AMBER_WITH_PID(int, pid, REAL(pidfd_open)(spid, flags));
}

/* The pidfd names the process; a siginfo the program fills names the sender (virtual). */
AMBER_EXPORT int pidfd_send_signal(int pidfd, int sig, siginfo_t *info, unsigned int flags) {
  siginfo_t copy;
  amber_enter();
  int r = REAL(pidfd_send_signal)(pidfd, sig, (siginfo_t *)amber_siginfo_in(info, &copy), flags);
  amber_leave();
  return r;
}

AMBER_EXPORT ssize_t process_vm_readv(pid_t pid, const struct iovec *local, unsigned long nlocal,
                                      const struct iovec *remote, unsigned long nremote,
                                      unsigned long flags) {
  AMBER_WITH_PID(ssize_t, pid,
                 REAL(process_vm_readv)(spid, local, nlocal, remote, nremote, flags));
}

AMBER_EXPORT ssize_t process_vm_writev(pid_t pid, const struct iovec *local, unsigned long nlocal,
                                       const struct iovec *remote, unsigned long nremote,
                                       unsigned long flags) {
  AMBER_WITH_PID(ssize_t, pid,
                 REAL(process_vm_writev)(spid, local, nlocal, remote, nremote, flags));
}

/* A terminal's foreground group and session; one outside the application reads 0. */
AMBER_EXPORT pid_t tcgetpgrp(int fd) {
  pid_t r = REAL(tcgetpgrp)(fd);
  return r > 0 ? amber_who_out(r) : r;
}

AMBER_EXPORT pid_t tcgetsid(int fd) {
  pid_t r = REAL(tcgetsid)(fd);
  return r > 0 ? amber_who_out(r) : r;
}

AMBER_EXPORT int tcsetpgrp(int fd, pid_t pgrp) {
  AMBER_WITH_PID(int, pgrp, REAL(tcsetpgrp)(fd, spid));
}
