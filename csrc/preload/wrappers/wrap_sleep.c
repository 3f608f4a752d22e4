/* Calls that the kernel never restarts after a signal handler ran: sleeps, and waits for
 * events or signals. When the EINTR came from a checkpoint (not from a signal of the
 * program's), the call is made again for what is left, so a program never sees a checkpoint. */
#include <string.h>
#include <time.h>

#include "../core/amber.h"
#include "cpu_clock.h"

#define CKPT_CAUSED(gen) (errno == EINTR && amber_active() && amber.checkpoints != (gen))

AMBER_EXPORT int nanosleep(const struct timespec *req, struct timespec *rem) {
  struct timespec left = *req, r;
  for (;;) {
    uint32_t gen = amber.checkpoints;
    int ret = REAL(nanosleep)(&left, &r);
    if (ret == 0 || !CKPT_CAUSED(gen)) {
      if (ret && rem) *rem = r;
      return ret;
    }
    left = r;
  }
}

AMBER_EXPORT int clock_nanosleep(clockid_t clock, int flags, const struct timespec *req,
                                 struct timespec *rem) {
  struct timespec left = *req, r;
  for (;;) {
    uint32_t gen = amber.checkpoints;
    clockid_t sys = amber_cpu_clock_to_system(clock);
    struct timespec until = left;
    if (flags & TIMER_ABSTIME)
      until = amber_timespec_shifted(left, -amber_cpu_clock_shift(clock, sys));
    int ret = REAL(clock_nanosleep)(sys, flags, &until, &r);
    if (ret != EINTR || !amber_active() || amber.checkpoints == gen) {
      if (ret == EINTR && rem) *rem = r;
      return ret;
    }
    if (!(flags & TIMER_ABSTIME)) left = r;
  }
}

AMBER_EXPORT int epoll_wait(int epfd, struct epoll_event *events, int n, int timeout) {
  for (;;) {
    uint32_t gen = amber.checkpoints;
    int ret = REAL(epoll_wait)(epfd, events, n, timeout);
    if (ret >= 0 || !CKPT_CAUSED(gen)) return ret;
  }
}

AMBER_EXPORT int epoll_pwait(int epfd, struct epoll_event *events, int n, int timeout,
                             const sigset_t *mask) {
  for (;;) {
    uint32_t gen = amber.checkpoints;
    int ret = REAL(epoll_pwait)(epfd, events, n, timeout, mask);
    if (ret >= 0 || !CKPT_CAUSED(gen)) return ret;
  }
}

AMBER_EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout) {
  for (;;) {
    uint32_t gen = amber.checkpoints;
    int ret = REAL(poll)(fds, n, timeout);
    if (ret >= 0 || !CKPT_CAUSED(gen)) return ret;
  }
}

/* select and pselect overwrite their sets even when interrupted: a call made again needs the
 * sets the program passed. */
struct fd_sets {
  fd_set *r, *w, *e;
  fd_set r0, w0, e0;
};

static void keep_sets(struct fd_sets *s, fd_set *r, fd_set *w, fd_set *e) {
  s->r = r, s->w = w, s->e = e;
  if (r) s->r0 = *r;
  if (w) s->w0 = *w;
  if (e) s->e0 = *e;
}

static void put_back_sets(const struct fd_sets *s) {
  if (s->r) *s->r = s->r0;
  if (s->w) *s->w = s->w0;
  if (s->e) *s->e = s->e0;
}

AMBER_EXPORT int select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *timeout) {
  struct fd_sets sets;
  keep_sets(&sets, r, w, e);
  for (;;) {
    uint32_t gen = amber.checkpoints;
    int ret = REAL(select)(n, r, w, e, timeout);
    if (ret >= 0 || !CKPT_CAUSED(gen)) return ret;
    put_back_sets(&sets);
  }
}

/* libc's sleep and usleep reach the kernel without passing through nanosleep's symbol. */
AMBER_EXPORT unsigned sleep(unsigned seconds) {
  struct timespec req = {seconds, 0}, rem;
  if (nanosleep(&req, &rem) == 0) return 0;
  return (unsigned)rem.tv_sec + (rem.tv_nsec > 0);
}

AMBER_EXPORT int usleep(useconds_t usec) {
  struct timespec req = {usec / 1000000, (long)(usec % 1000000) * 1000};
  return nanosleep(&req, NULL);
}

AMBER_EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *timeout,
                       const sigset_t *mask) {
  for (;;) {
    uint32_t gen = amber.checkpoints;
    int ret = REAL(ppoll)(fds, n, timeout, mask);
    if (ret >= 0 || !CKPT_CAUSED(gen)) return ret;
  }
}

AMBER_EXPORT int pselect(int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *timeout,
                         const sigset_t *mask) {
  struct fd_sets sets;
  keep_sets(&sets, r, w, e);
  for (;;) {
    uint32_t gen = amber.checkpoints;
    int ret = REAL(pselect)(n, r, w, e, timeout, mask);
    if (ret >= 0 || !CKPT_CAUSED(gen)) return ret;
    put_back_sets(&sets);
  }
}

/* pause and sigsuspend end when any handler runs: the checkpoint's is not the program's. */
AMBER_EXPORT int pause(void) {
  for (;;) {
    uint32_t gen = amber.checkpoints;
    int ret = REAL(pause)();
    if (!CKPT_CAUSED(gen)) return ret;
  }
}

AMBER_EXPORT int sigsuspend(const sigset_t *mask) {
  for (;;) {
    uint32_t gen = amber.checkpoints;
    int ret = REAL(sigsuspend)(mask);
    if (!CKPT_CAUSED(gen)) return ret;
  }
}

/* A signal taken with sigwaitinfo names its sender by virtual pid, as a handler's does. */
static void virtual_sender(siginfo_t *info) {
  if (info && amber_active() && amber_siginfo_has_pid(info->si_signo, info->si_code) &&
      info->si_pid > 0) {
    int32_t v = amber_s2v(amber.table, AMBER_KIND_PID, info->si_pid);
    info->si_pid = v > 0 ? v : 0;
  }
}

/* The checkpoint signal is held during the wait, and waited for with the program's: one that
 * landed between the call and the translation would leave the sender's system pid of before a
 * restore, which no row names after it. One taken so is sent again, and runs once let in. */
static int wait_signal(const sigset_t *set, siginfo_t *info, const struct timespec *timeout) {
  siginfo_t local;
  if (!info) info = &local;
  if (!amber_active() || sigismember(set, AMBER_CKPT_SIGNAL))
    return REAL(sigtimedwait)(set, info, timeout);
  sigset_t with; /* the kernel's 8 bytes: a raw call's set may have no more (syscall_pids.c) */
  sigemptyset(&with);
  memcpy(&with, set, 8);
  sigaddset(&with, AMBER_CKPT_SIGNAL);
  for (;;) {
    uint64_t mask;
    amber_ckpt_hold(&mask);
    /* Held by the program's own mask (raw), it never comes here: the thread is seized. */
    int held = (mask >> (AMBER_CKPT_SIGNAL - 1)) & 1;
    int ret = REAL(sigtimedwait)(held ? set : &with, info, timeout), err = errno;
    if (ret == AMBER_CKPT_SIGNAL && !held) {
      amber_sys3(SYS_tgkill, amber_sys_getpid(), amber_sys_gettid(), AMBER_CKPT_SIGNAL);
      amber_ckpt_release(&mask);
      continue;
    }
    if (ret > 0) virtual_sender(info);
    amber_ckpt_release(&mask);
    errno = err;
    return ret;
  }
}

AMBER_EXPORT int sigwaitinfo(const sigset_t *set, siginfo_t *info) {
  return wait_signal(set, info, NULL);
}

AMBER_EXPORT int sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *timeout) {
  return wait_signal(set, info, timeout);
}
