/* Where a process file goes: a regular file, or a FIFO read as it is written (agent_sink.h). */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>

#include "agent.h"
#include "agent_sink.h"

#define SIGPIPE_BIT (1ULL << (SIGPIPE - 1))
#define PIPE_BYTES (1 << 20) /* the default /proc/sys/fs/pipe-max-size: fewer, larger reads */

int amber_write_at(int fd, const void *buf, uint64_t len, uint64_t off) {
  for (const char *p = buf; len;) {
    long n = amber_sys4(SYS_pwrite64, fd, p, len, off);
    if (n == -EINTR) continue;
    if (n <= 0) return n < 0 ? (int)n : -EIO;
    p += n, len -= n, off += n;
  }
  return 0;
}

static int write_all(int fd, const void *buf, uint64_t len) {
  for (const char *p = buf; len;) {
    long n = amber_sys3(SYS_write, fd, p, len);
    if (n == -EINTR) continue;
    if (n <= 0) return n < 0 ? (int)n : -EIO;
    p += n, len -= n;
  }
  return 0;
}

/* A reader that goes away makes a write fail with EPIPE and raises SIGPIPE, whose default
 * action would end the program. The handler runs with every signal blocked (sa_mask), so it
 * could only be left pending, to strike when the program goes on; it is blocked here anyway,
 * so that this holds whatever the caller's mask, and taken back in amber_sink_close. */
static void hold_sigpipe(struct amber_sink *s) {
  uint64_t set = SIGPIPE_BIT, pending = 0;
  amber_sys4(SYS_rt_sigprocmask, SIG_BLOCK, &set, &s->saved_mask, 8);
  amber_sys2(SYS_rt_sigpending, &pending, 8);
  s->pipe_was_pending = (pending & SIGPIPE_BIT) != 0;
}

static void release_sigpipe(struct amber_sink *s) {
  uint64_t set = SIGPIPE_BIT, pending = 0;
  amber_sys2(SYS_rt_sigpending, &pending, 8);
  if ((pending & SIGPIPE_BIT) && !s->pipe_was_pending) {
    struct timespec now = {0, 0};
    amber_sys4(SYS_rt_sigtimedwait, &set, 0, &now, 8);
  }
  amber_sys4(SYS_rt_sigprocmask, SIG_SETMASK, &s->saved_mask, 0, 8);
}

/* The index beside a FIFO at path (`x.img` -> `x.index`); left out if it cannot be made. */
static void open_index(struct amber_sink *s, const char *path) {
  size_t n = strlen(path), img = sizeof AMBER_PROC_FILE_SUFFIX - 1;
  size_t index = sizeof AMBER_PROC_INDEX_SUFFIX; /* with its NUL */
  if (n < img || strcmp(path + n - img, AMBER_PROC_FILE_SUFFIX) ||
      n - img + index > sizeof s->index_path)
    return;
  memcpy(s->index_path, path, n - img);
  memcpy(s->index_path + n - img, AMBER_PROC_INDEX_SUFFIX, index);
  long fd = amber_sys4(SYS_openat, AT_FDCWD, s->index_path,
                       O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  s->index_fd = fd < 0 ? -1 : (int)fd;
}

/* An index that could not be written whole is dropped: without it, everything is sent. */
static void drop_index(struct amber_sink *s) {
  if (s->index_fd < 0) return;
  amber_sys1(SYS_close, s->index_fd);
  amber_sys3(SYS_unlinkat, AT_FDCWD, s->index_path, 0);
  s->index_fd = -1;
}

static int stream_to(struct amber_sink *s, int fd);

static int open_stream(struct amber_sink *s, const char *path, int (*still_wanted)(void)) {
  /* The coordinator opens its end before it asks for the file; until it has (ENXIO), wait,
   * but not for a coordinator that is gone or gave up. */
  long fd;
  while ((fd = amber_sys4(SYS_openat, AT_FDCWD, path, O_WRONLY | O_NONBLOCK | O_CLOEXEC, 0)) ==
         -ENXIO)
    if (!still_wanted()) return -ECANCELED;
  if (fd < 0) return (int)fd;
  int err = stream_to(s, (int)fd);
  if (!err) open_index(s, path);
  return err;
}

/* Writes go to the FIFO `fd` (taken over, closed on failure). */
static int stream_to(struct amber_sink *s, int fd) {
  struct stat st;
  long err = amber_sys2(SYS_fstat, fd, &st);
  if (!err && !S_ISFIFO(st.st_mode)) err = -EEXIST;
  long flags = err ? 0 : amber_sys2(SYS_fcntl, fd, F_GETFL);
  if (!err) err = flags < 0 ? flags : amber_sys3(SYS_fcntl, fd, F_SETFL, flags & ~O_NONBLOCK);
  if (err) {
    amber_sys1(SYS_close, fd);
    return (int)err;
  }
  amber_sys3(SYS_fcntl, fd, F_SETPIPE_SZ, PIPE_BYTES); /* best effort */
  s->fd = (int)fd;
  s->stream = 1;
  hold_sigpipe(s);
  return 0;
}

/* A process that may not reach the image directory gets its file from the coordinator
 * (agent_handover.c); a FIFO is streamed, without an index. */
static int open_handed(struct amber_sink *s) {
  int fd = amber_handover_take();
  if (fd < 0) return fd;
  struct stat st;
  if (amber_sys2(SYS_fstat, fd, &st) == 0 && S_ISFIFO(st.st_mode)) return stream_to(s, fd);
  s->fd = fd;
  return 0;
}

int amber_sink_open(struct amber_sink *s, const char *path, int (*still_wanted)(void)) {
  memset(s, 0, sizeof *s);
  s->fd = -1;
  s->index_fd = -1;
  struct stat st;
  long err = amber_sys4(SYS_newfstatat, AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW);
  if (err == 0 && S_ISFIFO(st.st_mode)) return open_stream(s, path, still_wanted);
  if (err == -EACCES) return open_handed(s);
  if (err == 0 && !S_ISREG(st.st_mode)) return -EEXIST;
  if (err && err != -ENOENT) return (int)err;
  /* A file there already is an earlier attempt's: written over. */
  int flags = err ? O_CREAT | O_EXCL : O_TRUNC;
  long fd = amber_sys4(SYS_openat, AT_FDCWD, path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC | flags, 0600);
  if (fd == -EACCES) return open_handed(s);
  if (fd < 0) return (int)fd;
  s->fd = (int)fd;
  return 0;
}

int amber_sink_open_kept(struct amber_sink *s, const char *path) {
  memset(s, 0, sizeof *s);
  s->index_fd = -1;
  long fd = amber_sys4(SYS_openat, AT_FDCWD, path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0);
  s->fd = fd < 0 ? -1 : (int)fd;
  return fd < 0 ? (int)fd : 0;
}

int amber_sink_write(struct amber_sink *s, const void *buf, uint64_t len, uint64_t off) {
  if (!s->stream) return amber_write_at(s->fd, buf, len, off);
  static const char zeros[AMBER_PAGE];
  if (off < s->pos) return -ESPIPE;
  while (s->pos < off) {
    uint64_t n = off - s->pos < sizeof zeros ? off - s->pos : sizeof zeros;
    int err = write_all(s->fd, zeros, n);
    if (err) return err;
    s->pos += n;
  }
  int err = write_all(s->fd, buf, len);
  if (!err) s->pos += len;
  return err;
}

int amber_sink_writev(struct amber_sink *s, struct iovec *iov, int n, uint64_t off) {
  if (s->stream) {
    for (int i = 0; i < n; off += iov[i].iov_len, i++) {
      int err = amber_sink_write(s, iov[i].iov_base, iov[i].iov_len, off);
      if (err) return err;
    }
    return 0;
  }
  if (s->cancelled && s->cancelled()) return -ECANCELED;
  while (n) {
    long done = amber_sys5(SYS_pwritev, s->fd, iov, n, off, 0);
    if (done == -EINTR) continue;
    if (done <= 0) return done < 0 ? (int)done : -EIO;
    off += done;
    /* A short write: on from where it stopped (the iovecs are the caller's to change). */
    while (n && (uint64_t)done >= iov->iov_len) done -= iov->iov_len, iov++, n--;
    if (n) iov->iov_base = (char *)iov->iov_base + done, iov->iov_len -= done;
  }
  return 0;
}

int amber_sink_write_indexed(struct amber_sink *s, const void *buf, uint64_t len, uint64_t off) {
  int err = amber_sink_write(s, buf, len, off);
  if (!err && s->index_fd >= 0 && amber_write_at(s->index_fd, buf, len, off)) drop_index(s);
  return err;
}

int amber_sink_finish(struct amber_sink *s, const void *header, uint64_t len) {
  if (s->stream) {
    int err = amber_sink_write(s, header, len, s->pos);
    /* The index's header last, as a file's: an index with its magic is a whole one. */
    if (!err && s->index_fd >= 0 && amber_write_at(s->index_fd, header, len, 0)) drop_index(s);
    if (!err && s->index_fd >= 0) {
      amber_sys1(SYS_close, s->index_fd);
      s->index_fd = -1;
    }
    return err;
  }
  /* The coordinator makes the files durable once the application runs on again (a crash before
   * leaves a temporary directory, never an image): the freeze does not wait for the disk. */
  return amber_write_at(s->fd, header, len, 0);
}

void amber_sink_close(struct amber_sink *s, const char *path, int failed) {
  drop_index(s); /* still open: the stream did not finish */
  if (s->fd < 0) return;
  amber_sys1(SYS_close, s->fd);
  if (s->stream) release_sigpipe(s); /* the FIFO is the coordinator's to remove */
  else if (failed) amber_sys3(SYS_unlinkat, AT_FDCWD, path, 0);
  s->fd = -1;
}
