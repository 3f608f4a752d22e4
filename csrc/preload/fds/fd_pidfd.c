/* pidfds (pidfd_open, clone's CLONE_PIDFD): a descriptor that names a process of the
 * application, as Python 3.12's asyncio holds one per running child and Go 1.23's os/exec one
 * per started process. Saved by the virtual pid it names (/proc/self/fdinfo's Pid line is the
 * system pid); made again with pidfd_open on that process's new system pid, which exists by
 * then (the restorer makes the whole tree first), so a poll, pidfd_send_signal or waitid
 * (P_PIDFD) acts on the same process. A pidfd of a process outside the application, or of one
 * that has ended and been reaped (nothing to name again), is refused by name.
 *
 * Record use: u[0] the virtual pid (or tid), u[1] PIDFD_THREAD or 0. */
#include <fcntl.h>
#include <string.h>

#include "fd_kinds.h"

enum { AMBER_FD_PIDFD = 15 };

#define PIDFD_THREAD O_EXCL /* a thread's pidfd (Linux 6.9) */

static int pidfd_recognise(const char *target, const struct stat *st) {
  (void)st;
  return !strcmp(target, "anon_inode:[pidfd]") || !strncmp(target, "pidfd:", 6);
}

/* The number after "name" on its line of `text`, in `base`; -1 and *v untouched if none. */
static int info_number(const char *text, const char *name, int base, int64_t *v) {
  const char *p = strstr(text, name);
  if (!p) return -1;
  p += strlen(name);
  while (*p == ' ' || *p == '\t') p++;
  int negative = *p == '-';
  uint64_t n;
  p += negative;
  if (amber_parse_u64(&p, &n, base)) return -1;
  *v = negative ? -(int64_t)n : (int64_t)n;
  return 0;
}

static int refuse(const struct amber_fd_rec *rec, const char *why, int64_t pid) {
  amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error, "descriptor %d (a pidfd) %s%ld%s", rec->fd,
            why, (long)pid, pid >= 0 ? ", which is outside the application" : "");
  return -1;
}

static int pidfd_capture(struct amber_fd_rec *rec, const char *target, const struct stat *st) {
  char path[64], info[1024];
  amber_fmt(path, sizeof path, "/proc/thread-self/fdinfo/%d", rec->fd);
  long n = amber_read_file(path, info, sizeof info);
  int64_t pid = 0, flags = 0;
  if (n <= 0 || info_number(info, "\nPid:", 10, &pid) || info_number(info, "flags:", 8, &flags)) {
    amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
              "cannot read descriptor %d (a pidfd): no Pid in its fdinfo", rec->fd);
    return -1;
  }
  if (pid <= 0) return refuse(rec, "names a process that has ended and been reaped", -1);
  int32_t vpid = amber_pid_s2v((int32_t)pid);
  if (vpid < 0) return refuse(rec, "names process ", pid);
  rec->kind = AMBER_FD_PIDFD;
  rec->ino = st->st_ino;
  rec->u[0] = (uint64_t)vpid;
  rec->u[1] = flags & PIDFD_THREAD ? PIDFD_THREAD : 0;
  amber_fmt(rec->path, sizeof rec->path, "%s", target);
  return 0;
}

static int pidfd_restore(struct amber_fd_rec *rec, int floor) {
  int32_t sid = amber_pid_v2s((int32_t)rec->u[0]);
  if (sid < 0) return -ESRCH;
  int fd = (int)amber_sys2(SYS_pidfd_open, sid, (long)rec->u[1] | (rec->flags & O_NONBLOCK));
  return amber_fd_place(amber_fd_park(fd, floor), rec);
}

const struct amber_fd_ops amber_fd_pidfd_ops = {
    .name = "pidfd",
    .kinds = AMBER_FD_BIT(AMBER_FD_PIDFD),
    .recognise = pidfd_recognise,
    .capture = pidfd_capture,
    .restore = pidfd_restore,
};
