/* A Unix socket of the application with descriptors in flight in its queue (SCM_RIGHTS sent,
 * not received: "scm_fds" in its fdinfo) that a process outside the application holds too: the
 * agents keep the descriptors in flight for the application's copy of the queue
 * (preload/fds/unix_rights.c), but the outside process could receive them from the original
 * socket as well, and a restore cannot keep one queue for both. The coordinator, with its own
 * privilege, looks at every other process's descriptors (only when such a queue exists) and
 * refuses the snapshot, naming both. A process it may not look at is not seen. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/table.h"
#include "clone_share.h"
#include "control.h"

#define MAX_QUEUES 64

/* The count on "scm_fds:" in /proc/<pid>/fdinfo/<fd>, or 0. */
static long scm_fds(int pid, int fd) {
  char path[64], text[1024];
  snprintf(path, sizeof path, "/proc/%d/fdinfo/%d", pid, fd);
  FILE *f = fopen(path, "re");
  if (!f) return 0;
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = 0;
  const char *p = strstr(text, "scm_fds:");
  return p ? strtol(p + 8, NULL, 10) : 0;
}

/* The application's entry for the socket with this inode among those with queues, or null. */
static const struct amber_share_fd *queue_of(const struct amber_share_fd *const *queues, int n,
                                             ino_t ino) {
  for (int i = 0; i < n; i++)
    if (queues[i]->ino == ino) return queues[i];
  return 0;
}

struct queues {
  const struct amber_share_fd *e[MAX_QUEUES];
  int n;
};

/* Whether the descriptor at link (of process pid) is one of the queues; the message in buf. */
static int holds_queue(const struct amber_table *t, int pid, const char *link,
                       const struct stat *st, const void *ctx, char *buf, int cap) {
  const struct queues *q = ctx;
  (void)t, (void)link;
  const struct amber_share_fd *mine = S_ISSOCK(st->st_mode) ? queue_of(q->e, q->n, st->st_ino) : 0;
  if (!mine) return 0;
  char comm[64];
  amber_process_comm(pid, comm, sizeof comm);
  snprintf(buf, cap,
           "process %d: descriptor %d (socket:[%lu]) has descriptors in flight (SCM_RIGHTS, not "
           "received yet) and is open in process %d (%s, outside the application) too, which "
           "could receive them: a restore cannot keep them for both",
           mine->vpid, mine->fd, (unsigned long)mine->ino, pid, comm);
  return 1;
}

int amber_share_rights_outside(struct amber_table *t, char *buf, int cap) {
  static __thread struct queues q;
  q.n = 0;
  for (uint32_t i = 0; i < t->share.n && q.n < MAX_QUEUES; i++) {
    const struct amber_share_fd *e = &t->share.fds[i];
    if (e->fd < 0 || !S_ISSOCK(e->mode) || queue_of(q.e, q.n, e->ino)) continue;
    int pid = amber_v2s(t, AMBER_KIND_PID, e->vpid);
    if (pid > 0 && scm_fds(amber_live_task(pid), e->fd) > 0) q.e[q.n++] = e;
  }
  /* Only an application with descriptors in flight pays for a look at every process. */
  return q.n ? amber_scan_outside(t, holds_queue, &q, buf, cap) : 0;
}
