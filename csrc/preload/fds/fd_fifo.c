/* Named FIFOs: the path is opened again and the unread bytes written back. The FIFO's first
 * holder in the application (its creator, agent_share.c) peeks the bytes with tee through a
 * read description of its own, once every process is frozen; at restore it opens the path for
 * reading and writing without waiting (a keeper, so that no open waits for the other side and
 * the bytes outlive every end), refills it and offers it; every description, its own too, is
 * then an open of the keeper with its own access mode. The broker holds the keeper until every
 * process is restored. An end outside the application (a reader or writer not in it) cannot be
 * kept: the coordinator refuses the snapshot when it sees one (control/ctl_fifo_outside.c). */
#include <fcntl.h>
#include <string.h>

#include "../../common/errno_name.h"
#include "../../common/broker.h"
#include "../../common/reopen.h"
#include "fd_kinds.h"

static int fifo_recognise(const char *target, const struct stat *st) {
  return S_ISFIFO(st->st_mode) && target[0] == '/';
}

static int fifo_capture(struct amber_fd_rec *rec, const char *target, const struct stat *st) {
  if (amber_is_deleted(target)) {
    amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
              "descriptor %d is a named FIFO deleted since it was opened (%s), which Amber cannot "
              "save yet", rec->fd, target);
    return -1;
  }
  rec->kind = AMBER_FD_FIFO;
  rec->ino = st->st_ino;
  rec->file_dev = st->st_dev;
  rec->file_mode = st->st_mode;
  rec->pipe_size = (int32_t)amber_sys2(SYS_fcntl, rec->fd, F_GETPIPE_SZ);
  amber_fmt(rec->path, sizeof rec->path, "%s", target);
  return 0;
}

/* The creator's copy of the unread bytes, through a read description of its own (its own end
 * may be write-only); opening a FIFO for reading without waiting always succeeds. */
static int fifo_frozen(struct amber_fd_rec *rec) {
  if (amber_fd_not_creator(rec)) return 0;
  char self[64];
  amber_fmt(self, sizeof self, "/proc/thread-self/fd/%d", rec->fd);
  int fd = (int)amber_sys4(SYS_openat, AT_FDCWD, self, O_RDONLY | O_NONBLOCK | O_CLOEXEC, 0);
  if (fd < 0) {
    amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
              "cannot open the named FIFO on descriptor %d (%s) to read its unread bytes: %s",
              rec->fd, rec->path, amber_errno_name(fd));
    return -1;
  }
  int err = amber_fd_pipe_peek(rec, fd);
  amber_sys1(SYS_close, fd);
  return err;
}

/* The path again, and only if it is still a FIFO with the same inode. */
static int make_keeper(const struct amber_fd_rec *rec) {
  int fd = (int)amber_open_no_links(rec->path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return fd;
  struct stat st;
  if (amber_sys2(SYS_fstat, fd, &st) < 0 || !S_ISFIFO(st.st_mode) || st.st_ino != rec->ino ||
      st.st_dev != rec->file_dev) {
    amber_sys1(SYS_close, fd);
    return -ESTALE;
  }
  if (rec->pipe_size > 0) amber_sys3(SYS_fcntl, fd, F_SETPIPE_SZ, rec->pipe_size);
  int err = amber_fd_pipe_refill(rec, fd);
  if (err) {
    amber_sys1(SYS_close, fd);
    return err;
  }
  return fd;
}

static int fifo_restore(struct amber_fd_rec *rec, int floor) {
  return amber_fd_keeper_restore(rec, floor, amber_key(AMBER_KEY_FD_KIND(AMBER_FD_FIFO), rec->ino),
                                 make_keeper);
}

const struct amber_fd_ops amber_fd_fifo_ops = {
    .name = "named FIFO",
    .kinds = AMBER_FD_BIT(AMBER_FD_FIFO),
    .recognise = fifo_recognise,
    .capture = fifo_capture,
    .frozen = fifo_frozen,
    .needs_peer = amber_fd_not_creator,
    .restore = fifo_restore,
    .may_create = amber_fd_any_creator,
};
