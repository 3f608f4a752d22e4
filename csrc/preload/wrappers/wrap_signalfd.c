/* signalfd: what a read returns names senders (and exited children, for SIGCHLD) by pid, in
 * struct signalfd_siginfo's ssi_pid; the program must see the virtual one, or a reaper that
 * waits for ssi_pid would name a process it does not know. The library remembers which
 * descriptors are signalfds (or fanotify groups, whose events name a pid too: wrap_fanotify.c),
 * a byte each, and translates what read returns from them; close, close_range, closefrom, dup2
 * and dup3 keep the bytes true. Every other read passes with one byte test. */
#include <linux/close_range.h>
#include <sys/signalfd.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "../core/amber.h"
#include "../../common/seccomp_calls.h"

#define MAX_TRACKED 4096
static uint8_t read_kind[MAX_TRACKED]; /* AMBER_READ_*; saved with memory: restored descriptors
                                          keep their numbers */

static int kind_of(int fd) {
  return fd >= 0 && fd < MAX_TRACKED ? __atomic_load_n(&read_kind[fd], __ATOMIC_RELAXED) : 0;
}

static void mark(int fd, int kind) {
  if (fd >= 0 && fd < MAX_TRACKED) __atomic_store_n(&read_kind[fd], (uint8_t)kind, __ATOMIC_RELAXED);
}

void amber_signalfd_forget(int fd) { mark(fd, 0); }

/* A new signalfd (or fanotify group) moves into the window the seccomp filter watches raw reads
 * in (AMBER_SIGNALFD_FD_MIN, seccomp_calls.h), so that a raw read of it from the program's own
 * code is trapped and translated too, and no other raw read is. Where the window is full or
 * above the descriptor limit it stays where it is (a raw read of it is then not translated). */
int amber_read_fd_made(int fd, int cloexec, int kind) {
  if (fd < 0 || !amber_active()) return fd;
  if (amber_seccomp_layer && (fd < AMBER_SIGNALFD_FD_MIN ||
                              fd >= AMBER_SIGNALFD_FD_MIN + AMBER_SIGNALFD_FDS)) {
    int cmd = cloexec ? F_DUPFD_CLOEXEC : F_DUPFD;
    int high = (int)amber_sys3(SYS_fcntl, fd, cmd, AMBER_SIGNALFD_FD_MIN);
    if (high >= AMBER_SIGNALFD_FD_MIN + AMBER_SIGNALFD_FDS) amber_sys1(SYS_close, high);
    else if (high >= 0) {
      amber_sys1(SYS_close, fd);
      fd = high;
    }
  }
  mark(fd, kind);
  return fd;
}

int amber_signalfd_made(int fd, int flags) {
  return amber_read_fd_made(fd, flags & SFD_CLOEXEC, AMBER_READ_SIGNALFD);
}

AMBER_EXPORT int signalfd(int fd, const sigset_t *mask, int flags) {
  int r = REAL(signalfd)(fd, mask, flags);
  return fd == -1 ? amber_signalfd_made(r, flags) : r;
}

/* What a read of `fd` returned into buf (r bytes): ssi_pid virtual if it is a signalfd, the
 * events' pids if a fanotify group. */
void amber_signalfd_read(int fd, void *buf, long r) {
  int kind = kind_of(fd);
  if (r <= 0 || !kind || !amber_active()) return;
  if (kind == AMBER_READ_FANOTIFY) {
    amber_fanotify_read(buf, r);
    return;
  }
  struct signalfd_siginfo *info = buf;
  for (long i = 0; i < r / (long)sizeof *info; i++) {
    if (!amber_siginfo_has_pid((int)info[i].ssi_signo, info[i].ssi_code) || !info[i].ssi_pid)
      continue;
    int32_t v = amber_s2v(amber.table, AMBER_KIND_PID, (int32_t)info[i].ssi_pid);
    info[i].ssi_pid = v > 0 ? (uint32_t)v : 0;
  }
}

AMBER_EXPORT ssize_t read(int fd, void *buf, size_t count) {
  ssize_t r = REAL(read)(fd, buf, count);
  amber_signalfd_read(fd, buf, r);
  return r;
}

AMBER_EXPORT int dup2(int from, int to) {
  if (from != to) amber_table_fd_evade(to);
  int r = REAL(dup2)(from, to);
  if (r >= 0 && from != to) {
    mark(to, kind_of(from));
    amber_dnotify_closed((unsigned)to, (unsigned)to);
  }
  return r;
}

AMBER_EXPORT int dup3(int from, int to, int flags) {
  if (from != to) amber_table_fd_evade(to);
  int r = REAL(dup3)(from, to, flags);
  if (r >= 0) {
    mark(to, kind_of(from));
    amber_dnotify_closed((unsigned)to, (unsigned)to);
  }
  return r;
}

/* closefrom(3), as spawning code does often, clears bytes at once, not 4000 one by one. */
static void forget_range(unsigned first, unsigned last) {
  if (first >= MAX_TRACKED) return;
  if (last >= MAX_TRACKED) last = MAX_TRACKED - 1;
  if (first <= last) memset(&read_kind[first], 0, last - first + 1);
}

AMBER_EXPORT int close_range(unsigned int first, unsigned int last, int flags) {
  int r = amber_table_fd_close_range(first, last, flags);
  if (r == 0 && !(flags & CLOSE_RANGE_CLOEXEC)) {
    forget_range(first, last);
    amber_dnotify_closed(first, last);
  }
  return r;
}

AMBER_EXPORT void closefrom(int lowfd) {
  if (amber_table_fd_above(lowfd)) amber_table_fd_close_range((unsigned)lowfd, ~0U, 0);
  else REAL(closefrom)(lowfd);
  if (lowfd >= 0) {
    forget_range((unsigned)lowfd, ~0U);
    amber_dnotify_closed((unsigned)lowfd, ~0U);
  }
}
