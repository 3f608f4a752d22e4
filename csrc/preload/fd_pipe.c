/* Pipes: the two ends pair up by inode. The unread bytes are peeked with tee(2), which copies
 * them out without consuming them, so the running program loses nothing; a restore writes
 * them into the new pipe before anyone reads. */
#include <fcntl.h>
#include <linux/limits.h>
#include <sys/ioctl.h>

#include "fd_kinds.h"

int amber_fd_pipe_capture(struct amber_fd_rec *rec, const struct stat *st) {
  rec->kind = AMBER_FD_PIPE;
  rec->ino = st->st_ino;
  rec->write_end = (rec->flags & O_ACCMODE) == O_WRONLY;
  rec->pipe_size = (int32_t)amber_sys2(SYS_fcntl, rec->fd, F_GETPIPE_SZ);
  amber_fmt(rec->path, sizeof rec->path, "pipe:[%ld]", (long)st->st_ino);
  if (rec->write_end) return 0;
  int pending = 0;
  amber_sys3(SYS_ioctl, rec->fd, FIONREAD, &pending);
  if (pending <= 0) return 0;
  int peek[2];
  if (amber_sys2(SYS_pipe2, peek, O_CLOEXEC) < 0) goto fail;
  amber_sys3(SYS_fcntl, peek[1], F_SETPIPE_SZ, rec->pipe_size);
  char *buf = amber_fd_buffer((uint64_t)pending);
  long copied = buf ? amber_sys4(SYS_tee, rec->fd, peek[1], pending, SPLICE_F_NONBLOCK) : -1;
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

static struct amber_fd_rec *other_end(const struct amber_fd_rec *rec) {
  for (int i = 0; i < amber_ckpt.nfds; i++) {
    struct amber_fd_rec *o = &amber_ckpt.fds[i];
    if (o != rec && o->kind == AMBER_FD_PIPE && o->ino == rec->ino && o->write_end != rec->write_end)
      return o;
  }
  return 0;
}

int amber_fd_pipe_restore(struct amber_fd_rec *rec, int floor) {
  /* Each pipe is made once, by its read end if the process has it. */
  struct amber_fd_rec *other = other_end(rec);
  if (rec->write_end && other) return 0;
  int p[2];
  long r = amber_sys2(SYS_pipe2, p, O_CLOEXEC);
  if (r < 0) return (int)r;
  p[0] = amber_fd_park(p[0], floor);
  p[1] = amber_fd_park(p[1], floor);
  if (rec->pipe_size > 0) amber_sys3(SYS_fcntl, p[1], F_SETPIPE_SZ, rec->pipe_size);
  for (uint64_t done = 0; done < rec->data_len;) {
    long n = amber_sys3(SYS_write, p[1], (char *)rec->data + done, rec->data_len - done);
    if (n <= 0) return n < 0 ? (int)n : -EIO;
    done += n;
  }
  struct amber_fd_rec *reader = rec->write_end ? other : rec;
  struct amber_fd_rec *writer = rec->write_end ? rec : other;
  int err = 0;
  /* An end the process did not hold is closed: its peer was outside the application. */
  if (reader) err = amber_fd_place(p[0], reader);
  else amber_sys1(SYS_close, p[0]);
  if (writer) err = err ? err : amber_fd_place(p[1], writer);
  else amber_sys1(SYS_close, p[1]);
  return err;
}
