/* fanotify: each event a group's read returns names the process that caused it by pid
 * (metadata->pid, a TID with FAN_REPORT_TID); the program sees the virtual one, 0 for a process
 * outside the application, as a listener in a pid namespace sees one outside it. A group is
 * known as signalfds are (wrap_signalfd.c: a byte per descriptor, and the window of raw reads
 * the seccomp filter traps), so that libc's, syscall()'s and raw reads are all translated. */
#include <sys/fanotify.h>

#include "../core/amber.h"

AMBER_EXPORT int fanotify_init(unsigned int flags, unsigned int event_f_flags) {
  int fd = REAL(fanotify_init)(flags, event_f_flags);
  return amber_read_fd_made(fd, flags & FAN_CLOEXEC, AMBER_READ_FANOTIFY);
}

void amber_fanotify_read(void *buf, long r) {
  char *p = buf;
  for (long at = 0; at + (long)sizeof(struct fanotify_event_metadata) <= r;) {
    struct fanotify_event_metadata *m = (void *)(p + at);
    if (m->event_len < sizeof *m) return; /* not an event: leave the rest alone */
    if (m->pid > 0) {
      int32_t v = amber_pid_s2v(m->pid);
      m->pid = v > 0 ? v : 0;
    }
    at += m->event_len;
  }
}
