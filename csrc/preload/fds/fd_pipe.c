/* Pipes: the two ends pair up by inode. The unread bytes are peeked with tee(2), which copies
 * them out without consuming them, so the running program loses nothing; a restore writes
 * them into the new pipe before anyone reads. They are peeked once every process of the
 * application is frozen (no writer can add any after), by the pipe's creator only. */
#include <fcntl.h>
#include <linux/limits.h>
#include <string.h>
#include <sys/ioctl.h>

#include "../../common/broker.h"
#include "../agent/agent_share.h"
#include "fd_kinds.h"

int amber_fd_pipe_capture(struct amber_fd_rec *rec, const struct stat *st) {
  rec->kind = AMBER_FD_PIPE;
  rec->ino = st->st_ino;
  rec->write_end = (rec->flags & O_ACCMODE) == O_WRONLY;
  rec->pipe_size = (int32_t)amber_sys2(SYS_fcntl, rec->fd, F_GETPIPE_SZ);
  amber_fmt(rec->path, sizeof rec->path, "pipe:[%ld]", (long)st->st_ino);
  return 0;
}

int amber_fd_pipe_save_queue(struct amber_fd_rec *rec) {
  if (rec->write_end || amber_fd_pipe_needs_peer(rec)) return 0; /* not the creator */
  return amber_fd_pipe_peek(rec, rec->fd);
}

int amber_fd_pipe_peek(struct amber_fd_rec *rec, int fd) {
  int pending = 0;
  amber_sys3(SYS_ioctl, fd, FIONREAD, &pending);
  if (pending <= 0) return 0;
  int peek[2];
  if (amber_sys2(SYS_pipe2, peek, O_CLOEXEC) < 0) goto fail;
  amber_sys3(SYS_fcntl, peek[1], F_SETPIPE_SZ, rec->pipe_size);
  char *buf = amber_fd_buffer((uint64_t)pending);
  long copied = buf ? amber_sys4(SYS_tee, fd, peek[1], pending, SPLICE_F_NONBLOCK) : -1;
  long got = 0;
  while (copied > 0 && got < copied) {
    long n = amber_sys3(SYS_read, peek[0], buf + got, copied - got);
    if (n <= 0) break;
    got += n;
  }
  amber_sys1(SYS_close, peek[0]);
  amber_sys1(SYS_close, peek[1]);
  if (got != pending) goto fail;
  rec->data = (uint64_t)buf;
  rec->data_len = (uint64_t)got;
  return 0;
fail:
  amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
            "cannot read the %d unread bytes of the pipe on descriptor %d", pending, rec->fd);
  return -1;
}

int amber_fd_pipe_refill(const struct amber_fd_rec *rec, int fd) {
  for (uint64_t done = 0; done < rec->data_len;) {
    long n = amber_sys3(SYS_write, fd, (char *)rec->data + done, rec->data_len - done);
    if (n <= 0) return n < 0 ? (int)n : -EIO;
    done += n;
  }
  return 0;
}

/* Does this end come from a pipe that another descriptor's restore creates? */
int amber_fd_pipe_needs_peer(const struct amber_fd_rec *rec) {
  if (!rec->creator_vpid) return 0; /* not listed: made here */
  return rec->creator_vpid != amber.vpid || rec->creator_fd != rec->fd;
}

/* A description of its own on the pipe whose end `end` is (as an open of /proc/self/fd/N
 * makes one), with this record's access mode: every description but the creator's is one, so
 * that none shares another's flags, and one open for reading and writing can do both. */
static int own_description(const struct amber_fd_rec *rec, int end, int floor) {
  if (end < 0) return end;
  char self[64];
  amber_fmt(self, sizeof self, "/proc/thread-self/fd/%d", end);
  int fd = (int)amber_sys4(SYS_openat, AT_FDCWD, self, (rec->flags & O_ACCMODE) | O_CLOEXEC, 0);
  /* A process that runs as another user than the pipe's maker may not open it again (a pipe is
   * its maker's, mode 0600): it cannot have had a description of its own in the original
   * either, only one it inherited, so the end itself is the one. */
  if (fd == -EACCES && (rec->flags & O_ACCMODE) != O_RDWR) return amber_fd_park(end, floor);
  amber_sys1(SYS_close, end);
  return amber_fd_park(fd, floor);
}

/* Phase 1: the pipe's creator (its first reader, or its first holder when nobody in the
 * application reads it) makes it, refills it and offers both ends; when no reader was in the
 * application the read end closes once every holder has its end. Phase 2: every other
 * description opens the pipe again, from the creator's end. */
int amber_fd_pipe_restore(struct amber_fd_rec *rec, int floor) {
  uint64_t key = amber_key(AMBER_KEY_PIPE, rec->ino);
  if (amber_fd_pipe_needs_peer(rec))
    return amber_fd_place(own_description(rec, amber_broker_get(key, rec->write_end), floor), rec);
  int p[2];
  long r = amber_sys2(SYS_pipe2, p, O_CLOEXEC);
  if (r < 0) return (int)r;
  p[0] = amber_fd_park(p[0], floor);
  p[1] = amber_fd_park(p[1], floor);
  if (rec->pipe_size > 0) amber_sys3(SYS_fcntl, p[1], F_SETPIPE_SZ, rec->pipe_size);
  int err = amber_fd_pipe_refill(rec, p[1]);
  if (err) return err;
  err = amber_broker_put(key, 0, p[0]);
  if (!err) err = amber_broker_put(key, 1, p[1]);
  amber_sys1(SYS_close, rec->write_end ? p[0] : p[1]);
  int mine = rec->write_end ? p[1] : p[0];
  if (err) {
    amber_sys1(SYS_close, mine);
    return err;
  }
  if ((rec->flags & O_ACCMODE) == O_RDWR) mine = own_description(rec, mine, floor);
  return amber_fd_place(mine, rec);
}

static int pipe_recognise(const char *target, const struct stat *st) {
  return S_ISFIFO(st->st_mode) && !strncmp(target, "pipe:[", 6);
}

static int pipe_capture(struct amber_fd_rec *rec, const char *target, const struct stat *st) {
  (void)target;
  return amber_fd_pipe_capture(rec, st);
}

/* The pipe is made by its first reader in the application (its first holder if none reads). */
static int pipe_may_create(const struct amber_fd_rec *rec, const struct amber_share_fd *e) {
  (void)rec;
  return (e->flags & O_ACCMODE) != O_WRONLY;
}

const struct amber_fd_ops amber_fd_pipe_ops = {
    .name = "pipe",
    .kinds = AMBER_FD_BIT(AMBER_FD_PIPE),
    .recognise = pipe_recognise,
    .capture = pipe_capture,
    .frozen = amber_fd_pipe_save_queue,
    .needs_peer = amber_fd_pipe_needs_peer,
    .restore = amber_fd_pipe_restore,
    .may_create = pipe_may_create,
};
