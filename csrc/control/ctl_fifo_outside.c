/* A named FIFO the application holds that a process outside it holds too: its end cannot be
 * kept (a restore opens the FIFO again for the application's processes only), so the outside
 * process would lose its reader or writer without a word. The coordinator, with its own
 * privilege, looks at every other process's descriptors (only when the application holds a
 * named FIFO) and refuses the snapshot, naming both. A process it may not look at (another user,
 * the coordinator not root) is not seen. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/table.h"
#include "control.h"

/* The application's descriptor on a named FIFO with this device and inode, or null. */
static const struct amber_share_fd *app_fifo(const struct amber_share *s, dev_t dev, ino_t ino) {
  for (uint32_t i = 0; i < s->n; i++) {
    const struct amber_share_fd *e = &s->fds[i];
    if (e->fd >= 0 && S_ISFIFO(e->mode) && e->dev == dev && e->ino == ino && e->std_stream <= 0)
      return e;
  }
  return 0;
}

int amber_in_application(const struct amber_table *t, int pid) {
  const struct amber_ctl *c = &t->ctl;
  for (uint32_t i = 0; i < c->nslots; i++)
    if (c->slots[i].vpid && amber_v2s((struct amber_table *)t, AMBER_KIND_PID, c->slots[i].vpid) == pid)
      return 1;
  return 0;
}

void amber_process_comm(int pid, char *comm, int cap) {
  char path[64];
  snprintf(comm, cap, "?");
  snprintf(path, sizeof path, "/proc/%d/comm", pid);
  FILE *f = fopen(path, "re");
  if (!f) return;
  if (fgets(comm, cap, f)) comm[strcspn(comm, "\n")] = 0;
  fclose(f);
}

/* Whether the descriptor at link (of process pid) is one of the application's named FIFOs;
 * the message in buf. */
static int holds_fifo(const struct amber_table *t, int pid, const char *link,
                      const struct stat *st, const void *ctx, char *buf, int cap) {
  (void)ctx;
  char target[512];
  ssize_t n = readlink(link, target, sizeof target - 1);
  if (n <= 0 || target[0] != '/' || !S_ISFIFO(st->st_mode)) return 0;
  target[n] = 0;
  const struct amber_share_fd *mine = app_fifo(&t->share, st->st_dev, st->st_ino);
  if (!mine) return 0;
  char comm[64];
  amber_process_comm(pid, comm, sizeof comm);
  snprintf(buf, cap,
           "process %d: descriptor %d (named FIFO %s) is open in process %d (%s, outside the "
           "application) too, whose end a restore cannot keep",
           mine->vpid, mine->fd, target, pid, comm);
  return 1;
}

/* Whether match() says yes of a descriptor of process pid. */
static int holds(const struct amber_table *t, int pid, amber_outside_match match, const void *ctx,
                 char *buf, int cap) {
  char dir[64];
  snprintf(dir, sizeof dir, "/proc/%d/fd", pid);
  DIR *d = opendir(dir);
  if (!d) return 0; /* gone, or not ours to look at */
  int found = 0;
  for (struct dirent *e; !found && (e = readdir(d));) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    char link[96];
    struct stat st;
    snprintf(link, sizeof link, "%s/%s", dir, e->d_name);
    if (stat(link, &st) == 0) found = match(t, pid, link, &st, ctx, buf, cap);
  }
  closedir(d);
  return found;
}

/* The device of pipes (pipefs): a FIFO on another is a named one. */
static dev_t pipe_device(void) {
  int p[2];
  struct stat st;
  if (pipe(p)) return 0;
  int r = fstat(p[0], &st);
  close(p[0]);
  close(p[1]);
  return r ? 0 : st.st_dev;
}

int amber_share_fifo_outside(struct amber_table *t, char *buf, int cap) {
  /* Only an application that holds a named FIFO pays for a look at every process. */
  dev_t pipes = pipe_device();
  int any = 0;
  for (uint32_t i = 0; i < t->share.n && !any; i++)
    any = t->share.fds[i].fd >= 0 && S_ISFIFO(t->share.fds[i].mode) &&
          t->share.fds[i].dev != pipes;
  return any ? amber_scan_outside(t, holds_fifo, 0, buf, cap) : 0;
}

int amber_scan_outside(const struct amber_table *t, amber_outside_match match, const void *ctx,
                       char *buf, int cap) {
  DIR *d = opendir("/proc");
  if (!d) return 0;
  int self = getpid(), found = 0;
  for (struct dirent *e; !found && (e = readdir(d));) {
    int pid = atoi(e->d_name);
    if (pid <= 0 || pid == self || amber_in_application(t, pid)) continue;
    found = holds(t, pid, match, ctx, buf, cap);
  }
  closedir(d);
  return found ? -EBUSY : 0;
}
