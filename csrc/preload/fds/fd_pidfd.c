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

static int refuse(const struct amber_fd_rec *rec, const char *why) {
  amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error, "descriptor %d (a pidfd) %s", rec->fd, why);
  return -1;
}

static int pidfd_capture(struct amber_fd_rec *rec, const char *target, const struct stat *st) {
  char info[1024];
  const char *pid_text = amber_fdinfo_read(rec->fd, info, sizeof info) > 0
                             ? amber_fdinfo_field(info, "Pid:")
                             : 0;
  uint64_t pid = 0, flags = 0;
  if (pid_text && *pid_text == '-') /* -1: the process has been reaped */
    return refuse(rec, "names a process that has ended and been reaped");
  if (!pid_text || amber_parse_u64(&pid_text, &pid, 10) || !pid ||
      amber_fdinfo_u64(info, "flags:", 8, &flags))
    return refuse(rec, "has no Pid in its fdinfo");
  int32_t vpid = amber_pid_s2v((int32_t)pid);
  if (vpid < 0) {
    char why[96];
    amber_fmt(why, sizeof why, "names process %d, which is outside the application", (int)pid);
    return refuse(rec, why);
  }
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
