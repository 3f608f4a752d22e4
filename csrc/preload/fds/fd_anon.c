/* anon_inode descriptors, read from /proc/self/fdinfo/<fd>:
 *  - eventfd: its counter and EFD_SEMAPHORE;
 *  - timerfd: clock, settime flags, the time left and the interval. A relative timer resumes
 *    with the time it had left when frozen (time spent frozen does not count); an absolute
 *    CLOCK_REALTIME timer keeps its wall-clock deadline. Expirations that fired but were not
 *    read yet are put back exactly with TFD_IOC_SET_TICKS where the kernel has it
 *    (CONFIG_CHECKPOINT_RESTORE); elsewhere the timer is armed to fire 1 ns after the restore,
 *    so a reader sees at least one expiration, but not the count, and a periodic timer's phase
 *    shifts to the restore;
 *  - signalfd: its signal mask (the pending signals are the process's, not the descriptor's);
 *  - epoll: created in pass 0; its registrations (amber_ckpt.epoll) added in pass 1, once
 *    every target exists again.
 * Other kinds (fanotify, userfaultfd, perf_event, io_uring, bpf...; inotify and pidfd have files
 * of their own) make the snapshot fail with a message naming the kind.
 *
 * Record use: u[5] = 1 + the descriptor this one is a dup of (the same open file), or 0.
 * eventfd: u[0] count, u[1] EFD_SEMAPHORE or 0. signalfd: u[0] mask.
 * timerfd: u[0] clock, u[1] settime flags, u[2] value in ns (time left, or the deadline on the
 * clock for TFD_TIMER_ABSTIME), u[3] interval in ns, u[4] unread expirations. */
#include <fcntl.h>
#include <linux/kcmp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>

#include "fd_kinds.h"

#ifndef TFD_IOC_SET_TICKS
#define TFD_IOC_SET_TICKS _IOW('T', 0, uint64_t)
#endif

#define NS 1000000000ULL

/* "(sec, nsec)" as nanoseconds. */
static int field_time(const char *text, const char *name, uint64_t *ns) {
  const char *p = amber_fdinfo_field(text, name);
  uint64_t sec, nsec;
  if (!p || *p++ != '(' || amber_parse_u64(&p, &sec, 10)) return -1;
  while (*p == ',' || *p == ' ') p++;
  if (amber_parse_u64(&p, &nsec, 10)) return -1;
  *ns = sec * NS + nsec;
  return 0;
}

static int fail(const struct amber_fd_rec *rec, const char *what) {
  amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
            "cannot read the state of descriptor %d (%s): %s", rec->fd, rec->path, what);
  return -1;
}

static int capture_eventfd(struct amber_fd_rec *rec, const char *info) {
  uint64_t sem = 0;
  if (amber_fdinfo_u64(info, "eventfd-count:", 16, &rec->u[0])) return fail(rec, "no eventfd-count");
  /* Kernels before 6.5 do not show the flag: the descriptor is taken as a plain counter. */
  if (!amber_fdinfo_u64(info, "eventfd-semaphore:", 10, &sem) && sem) rec->u[1] = EFD_SEMAPHORE;
  return 0;
}

static int capture_timerfd(struct amber_fd_rec *rec, const char *info) {
  uint64_t *u = rec->u;
  if (amber_fdinfo_u64(info, "clockid:", 10, &u[0]) || amber_fdinfo_u64(info, "ticks:", 10, &u[4]) ||
      amber_fdinfo_u64(info, "settime flags:", 8, &u[1]) || field_time(info, "it_value:", &u[2]) ||
      field_time(info, "it_interval:", &u[3]))
    return fail(rec, "unexpected timerfd fdinfo");
  /* fdinfo shows the time left; an absolute wall-clock timer keeps its deadline instead. */
  if ((u[1] & TFD_TIMER_ABSTIME) && u[2] &&
      (u[0] == CLOCK_REALTIME || u[0] == CLOCK_REALTIME_ALARM)) {
    struct timespec now;
    amber_sys2(SYS_clock_gettime, CLOCK_REALTIME, &now);
    u[2] += (uint64_t)now.tv_sec * NS + (uint64_t)now.tv_nsec;
  } else {
    u[1] &= ~(uint64_t)(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET);
  }
  return 0;
}

static int capture_signalfd(struct amber_fd_rec *rec, const char *info) {
  if (amber_fdinfo_u64(info, "sigmask:", 16, &rec->u[0])) return fail(rec, "no sigmask");
  return 0;
}

/* Is `fd` (open now) the file that epoll `epfd` registered as `tfd`? */
static int registered_file_is(int epfd, int tfd, int fd, uint64_t ino) {
  struct kcmp_epoll_slot slot = {(uint32_t)epfd, (uint32_t)tfd, 0};
  int pid = amber_sys_getpid();
  long r = amber_sys5(SYS_kcmp, pid, pid, KCMP_EPOLL_TFD, fd, &slot);
  if (r >= 0) return r == 0;
  struct stat st; /* no kcmp: the inode will do */
  return amber_sys2(SYS_fstat, fd, &st) == 0 && st.st_ino == ino;
}

static int capture_epoll(struct amber_fd_rec *rec) {
  static char info[AMBER_EPOLL_MAX * 128]; /* a line per registration, some 90 bytes */
  long len = amber_fdinfo_read(rec->fd, info, sizeof info);
  if (len < 0) return fail(rec, "no fdinfo");
  if (len >= (long)sizeof info - 1) return fail(rec, "too many registrations");
  for (const char *p = info; (p = amber_fdinfo_field(p, "tfd:")) != 0;) {
    uint64_t tfd, events, data, ino = 0;
    if (amber_parse_u64(&p, &tfd, 10)) return fail(rec, "unexpected epoll fdinfo");
    /* "tfd: %8d events: %8x data: %16llx  pos:%lli ino:%lx sdev:%x" */
    const char *e = strstr(p, "events:"), *d = strstr(p, "data:"), *i = strstr(p, "ino:");
    const char *eol = strchr(p, '\n');
    if (!e || !d || (eol && (e > eol || d > eol))) return fail(rec, "unexpected epoll fdinfo");
    e += 7;
    d += 5;
    while (*e == ' ') e++;
    while (*d == ' ') d++;
    if (amber_parse_u64(&e, &events, 16) || amber_parse_u64(&d, &data, 16))
      return fail(rec, "unexpected epoll fdinfo");
    if (i && (!eol || i < eol)) {
      i += 4;
      amber_parse_u64(&i, &ino, 16);
    }
    int holder = (int)tfd;
    if (!registered_file_is(rec->fd, (int)tfd, (int)tfd, ino)) holder = amber_epoll_holder(rec->fd, (int)tfd);
    if (amber_ckpt.nepoll == AMBER_EPOLL_MAX) {
      amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
                "more than %d epoll registrations", AMBER_EPOLL_MAX);
      return -1;
    }
    struct amber_epoll_rec *r = &amber_ckpt.epoll[amber_ckpt.nepoll++];
    memset(r, 0, sizeof *r);
    r->epfd = rec->fd;
    r->tfd = (int32_t)tfd;
    r->events = (uint32_t)events;
    r->data = data;
    /* moved, or not held here (a shared epoll's owner may hold it): epoll_moved.c */
    r->pad = holder < 0 ? AMBER_EPOLL_NOT_HELD : holder == (int)tfd ? 0 : (uint32_t)holder + 1;
    p = eol ? eol : p + strlen(p);
  }
  return 0;
}

/* The descriptor, captured before this one, that holds the same open file (dup, fork, or
 * SCM_RIGHTS), or -1. */
static int same_file_as(const struct amber_fd_rec *rec) {
  int pid = amber_sys_getpid();
  for (const struct amber_fd_rec *o = amber_ckpt.fds; o < rec; o++) {
    if (o->kind < AMBER_FD_EPOLL || o->kind > AMBER_FD_SIGNALFD || o->u[5]) continue;
    if (amber_sys5(SYS_kcmp, pid, pid, KCMP_FILE, o->fd, rec->fd) == 0) return o->fd;
  }
  return -1;
}

int amber_fd_anon_capture(struct amber_fd_rec *rec, const char *target) {
  const char *kind = target + 11; /* after "anon_inode:" */
  char name[64];
  size_t n = strlen(kind);
  if (*kind == '[' && n > 1 && kind[n - 1] == ']') {
    kind++;
    n -= 2;
  }
  if (n >= sizeof name) n = sizeof name - 1;
  memcpy(name, kind, n);
  name[n] = 0;

  if (!strcmp(name, "eventfd")) rec->kind = AMBER_FD_EVENTFD;
  else if (!strcmp(name, "timerfd")) rec->kind = AMBER_FD_TIMERFD;
  else if (!strcmp(name, "signalfd")) rec->kind = AMBER_FD_SIGNALFD;
  else if (!strcmp(name, "eventpoll")) rec->kind = AMBER_FD_EPOLL;
  else {
    int vowel = strchr("aeiou", name[0]) != 0 && name[0];
    amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
              "descriptor %d is %s %s descriptor (%s), which Amber cannot save yet", rec->fd,
              vowel ? "an" : "a", name, target);
    return -1;
  }
  amber_fmt(rec->path, sizeof rec->path, "%s", target);
  int original = same_file_as(rec);
  if (original >= 0) {
    rec->u[5] = (uint64_t)original + 1;
    return 0;
  }
  if (rec->kind == AMBER_FD_EPOLL) return capture_epoll(rec);
  static char info[2048];
  if (amber_fdinfo_read(rec->fd, info, sizeof info) < 0) return fail(rec, "no fdinfo");
  switch (rec->kind) {
  case AMBER_FD_EVENTFD: return capture_eventfd(rec, info);
  case AMBER_FD_TIMERFD: return capture_timerfd(rec, info);
  default: return capture_signalfd(rec, info);
  }
}

static void ns_to_timespec(uint64_t ns, struct timespec *ts) {
  ts->tv_sec = (time_t)(ns / NS);
  ts->tv_nsec = (long)(ns % NS);
}

static int create_timerfd(const struct amber_fd_rec *rec) {
  const uint64_t *u = rec->u;
  int fd = (int)amber_sys2(SYS_timerfd_create, (int)u[0], TFD_CLOEXEC);
  if (fd < 0) return fd;
  struct itimerspec its;
  ns_to_timespec(u[2], &its.it_value);
  ns_to_timespec(u[3], &its.it_interval);
  int flags = (int)u[1];
  if ((flags & TFD_TIMER_ABSTIME) && !u[2]) flags = 0;
  long err = 0;
  if (u[2] || u[3]) err = amber_sys4(SYS_timerfd_settime, fd, flags, &its, 0);
  if (!err && u[4]) {
    uint64_t ticks = u[4];
    if (amber_sys3(SYS_ioctl, fd, TFD_IOC_SET_TICKS, &ticks) < 0) {
      /* No way to set the count here: fire as soon as possible instead. */
      its.it_value.tv_sec = 0;
      its.it_value.tv_nsec = 1;
      err = amber_sys4(SYS_timerfd_settime, fd, 0, &its, 0);
    }
  }
  if (err < 0) {
    amber_sys1(SYS_close, fd);
    return (int)err;
  }
  return fd;
}

static int create(const struct amber_fd_rec *rec) {
  switch (rec->kind) {
  case AMBER_FD_EPOLL: return (int)amber_sys1(SYS_epoll_create1, EPOLL_CLOEXEC);
  case AMBER_FD_EVENTFD: {
    int fd = (int)amber_sys2(SYS_eventfd2, 0, EFD_CLOEXEC | (int)rec->u[1]);
    /* The counter is 64 bits; eventfd2 takes 32: add it with a write. */
    if (fd >= 0 && rec->u[0]) {
      uint64_t count = rec->u[0];
      long r = amber_sys3(SYS_write, fd, &count, sizeof count);
      if (r != sizeof count) {
        amber_sys1(SYS_close, fd);
        return r < 0 ? (int)r : -EIO;
      }
    }
    return fd;
  }
  case AMBER_FD_TIMERFD: return create_timerfd(rec);
  case AMBER_FD_SIGNALFD: {
    uint64_t mask = rec->u[0];
    return (int)amber_sys4(SYS_signalfd4, -1, &mask, 8, SFD_CLOEXEC);
  }
  default: return -EINVAL;
  }
}

static int is_stdio(int fd) {
  for (int i = 0; i < amber_ckpt.nfds; i++)
    if (amber_ckpt.fds[i].fd == fd) return amber_ckpt.fds[i].kind == AMBER_FD_STDIO;
  return 0;
}

static int add_registrations(const struct amber_fd_rec *rec, int floor) {
  for (int i = 0; i < amber_ckpt.nepoll; i++) {
    const struct amber_epoll_rec *r = &amber_ckpt.epoll[i];
    if (r->epfd != rec->fd) continue;
    struct epoll_event ev = {.events = r->events, .data.u64 = r->data};
    long err = r->pad ? amber_epoll_add_moved(rec->fd, r->tfd, (int)r->pad - 1, &ev, floor)
                      : amber_sys4(SYS_epoll_ctl, rec->fd, EPOLL_CTL_ADD, r->tfd, &ev);
    /* A standard stream is the restorer's now, and may be a file epoll cannot watch. */
    if (err == -EPERM && is_stdio(r->tfd)) continue;
    if (err < 0) return (int)err;
  }
  return 0;
}

int amber_fd_anon_restore(struct amber_fd_rec *rec, int floor, int pass) {
  if (pass == 1) return rec->kind == AMBER_FD_EPOLL && !rec->u[5] ? add_registrations(rec, floor) : 0;
  int fd = rec->u[5] ? (int)amber_sys3(SYS_fcntl, (int)rec->u[5] - 1, F_DUPFD_CLOEXEC, floor)
                     : create(rec);
  return amber_fd_place(amber_fd_park(fd, floor), rec);
}

static int anon_recognise(const char *target, const struct stat *st) {
  (void)st;
  return !strncmp(target, "anon_inode:", 11);
}

static int anon_capture(struct amber_fd_rec *rec, const char *target, const struct stat *st) {
  (void)st;
  return amber_fd_anon_capture(rec, target);
}

static int anon_create(struct amber_fd_rec *rec, int floor) {
  return amber_fd_anon_restore(rec, floor, 0);
}

/* Epoll registrations, once every watched descriptor exists. */
static int anon_link(struct amber_fd_rec *rec, int floor) {
  if (rec->kind != AMBER_FD_EPOLL || !amber_fd_owned(rec)) return 0;
  return amber_fd_anon_restore(rec, floor, 1);
}

const struct amber_fd_ops amber_fd_anon_ops = {
    .name = "anon_inode",
    .kinds = AMBER_FD_BIT(AMBER_FD_EPOLL) | AMBER_FD_BIT(AMBER_FD_EVENTFD) |
             AMBER_FD_BIT(AMBER_FD_TIMERFD) | AMBER_FD_BIT(AMBER_FD_SIGNALFD),
    .recognise = anon_recognise,
    .capture = anon_capture,
    .restore = anon_create,
    .frozen = amber_epoll_frozen,
    .link = anon_link,
};
