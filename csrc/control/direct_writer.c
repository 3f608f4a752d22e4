/* A file written by a thread of its own, O_DIRECT where allowed (direct_writer.h). */
#include "direct_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define SLOTS 8                       /* buffers: some written, the others filled meanwhile */
#define PIECES (DW_BYTES / 4096 + 1) /* at most one piece per page */
#define IOVS 1024                     /* IOV_MAX */

struct slot {
  uint8_t *buf;
  struct iovec iov[PIECES];
  int n;
  uint64_t off;
};

struct direct_writer {
  int fd;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t changed;
  struct slot slots[SLOTS];
  unsigned head, queued; /* the next slot to write, and how many are queued from it */
  struct iovec iov[IOVS]; /* the writer's: the slots it writes as one */
  int err, stop, started;
};

/* Writes the iovecs whole from off; an O_DIRECT write the file system refuses (EINVAL:
 * alignment it wants larger than a page) is done through the cache instead, and so is the rest. */
static int write_all(struct direct_writer *w, struct iovec *iov, int n, uint64_t off) {
  while (n) {
    ssize_t done = pwritev(w->fd, iov, n, (off_t)off);
    if (done < 0 && errno == EINTR) continue;
    if (done < 0 && errno == EINVAL) {
      int flags = fcntl(w->fd, F_GETFL);
      if (flags >= 0 && (flags & O_DIRECT) && fcntl(w->fd, F_SETFL, flags & ~O_DIRECT) == 0)
        continue;
    }
    if (done <= 0) return done < 0 ? -errno : -EIO;
    off += (uint64_t)done;
    while (n && (size_t)done >= iov->iov_len) done -= (ssize_t)iov->iov_len, iov++, n--;
    if (n) iov->iov_base = (char *)iov->iov_base + done, iov->iov_len -= (size_t)done;
  }
  return 0;
}

/* The slots queued from the head that follow one another in the file, as one write: when the
 * disk is slower than the reader, fewer and larger writes (and fewer wake-ups of this thread,
 * which on a busy machine waits for a CPU after each). How many it took. */
static unsigned write_queued(struct direct_writer *w, unsigned queued, int *err) {
  struct iovec *iov = w->iov;
  struct slot *first = &w->slots[w->head];
  uint64_t end = first->off;
  int n = 0;
  unsigned taken = 0;
  for (; taken < queued; taken++) {
    struct slot *s = &w->slots[(w->head + taken) % SLOTS];
    if (s->off != end || n + s->n > IOVS) break;
    for (int i = 0; i < s->n; i++) iov[n++] = s->iov[i], end += s->iov[i].iov_len;
  }
  *err = write_all(w, iov, n, first->off);
  return taken;
}

static void *writer(void *arg) {
  struct direct_writer *w = arg;
  pthread_mutex_lock(&w->lock);
  for (;;) {
    while (!w->queued && !w->stop) pthread_cond_wait(&w->changed, &w->lock);
    if (!w->queued) break;
    unsigned queued = w->queued, taken = queued;
    int failed = w->err != 0, err = 0;
    pthread_mutex_unlock(&w->lock);
    if (!failed) taken = write_queued(w, queued, &err);
    pthread_mutex_lock(&w->lock);
    if (err && !w->err) w->err = err;
    w->head = (w->head + taken) % SLOTS, w->queued -= taken;
    pthread_cond_broadcast(&w->changed);
  }
  pthread_mutex_unlock(&w->lock);
  return NULL;
}

int dw_open(struct direct_writer **out, const char *path) {
  struct direct_writer *w = calloc(1, sizeof *w);
  if (!w) return -ENOMEM;
  int flags = O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC;
  w->fd = open(path, flags | O_DIRECT, 0600);
  if (w->fd < 0 && errno == EINVAL) w->fd = open(path, flags, 0600); /* no O_DIRECT here */
  int err = w->fd < 0 ? -errno : 0;
  for (int i = 0; i < SLOTS && !err; i++)
    if (posix_memalign((void **)&w->slots[i].buf, 4096, DW_BYTES)) err = -ENOMEM;
  if (!err) {
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->changed, NULL);
    err = -pthread_create(&w->thread, NULL, writer, w);
    w->started = !err;
  }
  if (err) {
    dw_close(w);
    return err;
  }
  *out = w;
  return 0;
}

uint8_t *dw_buffer(struct direct_writer *w) {
  pthread_mutex_lock(&w->lock);
  while (w->queued == SLOTS && !w->err) pthread_cond_wait(&w->changed, &w->lock);
  uint8_t *buf = w->err ? NULL : w->slots[(w->head + w->queued) % SLOTS].buf;
  pthread_mutex_unlock(&w->lock);
  return buf;
}

int dw_write(struct direct_writer *w, const struct dw_piece *pieces, int n, uint64_t off) {
  pthread_mutex_lock(&w->lock);
  int err = w->err;
  if (!err && n > 0) {
    /* dw_buffer left a slot free, and only this thread queues. */
    struct slot *s = &w->slots[(w->head + w->queued) % SLOTS];
    for (int i = 0; i < n; i++) s->iov[i] = (struct iovec){s->buf + pieces[i].from, pieces[i].len};
    s->n = n, s->off = off;
    w->queued++;
    pthread_cond_broadcast(&w->changed);
  }
  pthread_mutex_unlock(&w->lock);
  return err;
}

int dw_finish(struct direct_writer *w) {
  pthread_mutex_lock(&w->lock);
  while (w->queued && !w->err) pthread_cond_wait(&w->changed, &w->lock);
  int err = w->err;
  pthread_mutex_unlock(&w->lock);
  return err;
}

int dw_fd(const struct direct_writer *w) { return w->fd; }

void dw_close(struct direct_writer *w) {
  if (!w) return;
  if (w->started) {
    pthread_mutex_lock(&w->lock);
    w->stop = 1;
    if (!w->err) w->err = -ECANCELED; /* what is still queued is dropped */
    pthread_cond_broadcast(&w->changed);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->changed);
  }
  if (w->fd >= 0) close(w->fd);
  for (int i = 0; i < SLOTS; i++) free(w->slots[i].buf);
  free(w);
}
