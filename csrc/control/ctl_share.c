/* What the processes of an application share, listed by the coordinator once every process is
 * frozen and before any writes its file (table.h, struct amber_share). The coordinator runs as
 * the user who launched the application, so it may read every process's /proc and kcmp(2)
 * every pair, even when some processes have since switched user (nginx's master stays root,
 * its workers become www-data; a worker may not look at the master). The agents then decide
 * from this list alone (preload/agent/agent_share.c). A process the coordinator may not look at
 * fails the snapshot, naming it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/sys.h"
#include "../common/table.h"
#include "clone_share.h"
#include "control.h"

#define API __attribute__((visibility("default")))
#define KCMP_FILE 0

struct where {
  int32_t pid; /* system pid of the entry's process */
  int64_t pos;
};

/* Per thread: scans of different applications run at once on the FFI's threads. */
static __thread struct where where[AMBER_SHARE_MAX];

/* The flags and position of a description (/proc/<pid>/fdinfo/<fd>), and a pseudo-terminal
 * master's number + 1 (0 for anything else). */
static void fdinfo(int pid, int fd, int32_t *flags, int64_t *pos, int32_t *tty) {
  char path[64], text[512];
  snprintf(path, sizeof path, "/proc/%d/fdinfo/%d", pid, fd);
  *flags = 0, *pos = 0, *tty = 0;
  int f = open(path, O_RDONLY | O_CLOEXEC);
  if (f < 0) return;
  ssize_t n = read(f, text, sizeof text - 1);
  close(f);
  text[n > 0 ? n : 0] = 0;
  const char *p = strstr(text, "pos:");
  if (p) *pos = strtoll(p + 4, NULL, 10);
  p = strstr(text, "flags:");
  if (p) *flags = (int32_t)strtol(p + 6, NULL, 8);
  p = strstr(text, "tty-index:");
  if (p) *tty = (int32_t)strtol(p + 10, NULL, 10) + 1;
}

static int add(struct amber_share *s, int32_t vpid, int32_t fd, const struct stat *st,
               int32_t flags, int pid, int64_t pos, int32_t tty) {
  if (s->n == AMBER_SHARE_MAX) return -E2BIG;
  s->fds[s->n] = (struct amber_share_fd){vpid, fd, st->st_dev, st->st_ino, st->st_mode, flags,
                                         vpid, fd, -1, tty};
  where[s->n++] = (struct where){pid, pos};
  return 0;
}

static int list_fds(struct amber_share *s, int32_t vpid, int pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/fd", pid);
  DIR *d = opendir(path);
  if (!d) return -errno;
  int err = 0;
  struct dirent *e;
  while (!err && (e = readdir(d))) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    int fd = atoi(e->d_name);
    char link[96];
    struct stat st;
    snprintf(link, sizeof link, "/proc/%d/fd/%d", pid, fd);
    if (stat(link, &st)) continue; /* closed meanwhile: it is not the program's */
    int32_t flags, tty;
    int64_t pos;
    fdinfo(pid, fd, &flags, &pos, &tty);
    err = add(s, vpid, fd, &st, flags, pid, pos, tty);
  }
  closedir(d);
  return err;
}

/* Shared mappings (with an 's' in their permissions), by inode. */
static int list_maps(struct amber_share *s, int32_t vpid, int pid) {
  char path[64], line[1024];
  snprintf(path, sizeof path, "/proc/%d/maps", pid);
  FILE *f = fopen(path, "re");
  if (!f) return -errno;
  int err = 0;
  while (!err && fgets(line, sizeof line, f)) {
    char perms[8];
    unsigned long long ino;
    unsigned major, minor;
    if (sscanf(line, "%*s %7s %*s %x:%x %llu", perms, &major, &minor, &ino) != 4 ||
        perms[3] != 's' || !ino)
      continue;
    /* the device as the agents read it from their own maps (agent_memory.c) */
    struct stat st = {.st_ino = ino, .st_dev = ((uint64_t)major << 8) | minor};
    err = add(s, vpid, -1, &st, 0, pid, 0, 0);
  }
  fclose(f);
  return err;
}

/* Are entries a and b (same file) one open file description? kcmp says exactly; where the
 * kernel does not let this user compare the two, a socket's inode is enough (a socket has one
 * description), and a file's or pipe's position and flags decide. */
static int same_description(const struct amber_share *s, uint32_t a, uint32_t b) {
  const struct amber_share_fd *x = &s->fds[a], *y = &s->fds[b];
  long r = amber_sys5(SYS_kcmp, where[a].pid, where[b].pid, KCMP_FILE, x->fd, y->fd);
  if (r >= 0) return r == 0;
  if (S_ISSOCK(x->mode)) return 1;
  return x->flags == y->flags && where[a].pos == where[b].pos;
}

static void find_owners(struct amber_share *s) {
  for (uint32_t i = 0; i < s->n; i++) {
    struct amber_share_fd *e = &s->fds[i];
    if (e->fd < 0) continue;
    for (uint32_t j = 0; j < i; j++) {
      const struct amber_share_fd *o = &s->fds[j];
      if (o->fd < 0 || o->ino != e->ino || o->dev != e->dev || o->mode != e->mode) continue;
      if (!same_description(s, j, i)) continue;
      e->owner_vpid = o->owner_vpid, e->owner_fd = o->owner_fd;
      break;
    }
  }
}

/* Which descriptors are the launcher's standard streams: the supervisor holds them as its own
 * 0, 1 and 2, so kcmp says exactly (a program that opens the same file again, as a daemon
 * opens /dev/null, has a description of its own, which is not reattached on restore). */
static void find_std_streams(struct amber_table *t, struct amber_share *s) {
  int32_t sup = -1;
  for (uint32_t i = 0; i < t->high[AMBER_KIND_PID]; i++) {
    struct amber_row *r = &t->rows[AMBER_KIND_PID][i];
    if (r->state == AMBER_ROW_LIVE && (r->flags & AMBER_PID_SUPERVISOR)) sup = r->sid;
  }
  for (uint32_t i = 0; i < s->n && sup > 0; i++) {
    struct amber_share_fd *e = &s->fds[i];
    if (e->fd < 0 || e->fd > 2) continue;
    e->std_stream = 0;
    for (int k = 0; k < 3; k++) {
      long r = amber_sys5(SYS_kcmp, sup, where[i].pid, KCMP_FILE, k, e->fd);
      if (r == 0) e->std_stream = k + 1;
      if (r == 0 || r < 0) {
        if (r < 0) e->std_stream = -1;
        break;
      }
    }
  }
}

/* Where to look at process pid: pid itself, or, when its main thread is gone (pthread_exit),
 * one of its live threads: /proc/<pid>/fd and maps, and kcmp, see nothing through a gone main
 * thread, while /proc/<tid>/... and kcmp of a TID see the process's. */
int amber_live_task(int pid) {
  char path[64], state = 0;
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "re");
  if (!f) return pid;
  if (fscanf(f, "%*d (%*[^)]) %c", &state) != 1) state = 0;
  fclose(f);
  if (state != 'Z') return pid;
  snprintf(path, sizeof path, "/proc/%d/task", pid);
  DIR *d = opendir(path);
  if (!d) return pid;
  int tid = pid;
  for (struct dirent *e; (e = readdir(d));) {
    int t = atoi(e->d_name);
    if (t > 0 && t != pid) {
      tid = t;
      break;
    }
  }
  closedir(d);
  return tid;
}

API int32_t amber_ctl_share_scan(void *table, char *buf, int32_t cap) {
  struct amber_table *t = table;
  struct amber_share *s = &t->share;
  struct amber_ctl *c = &t->ctl;
  s->ready = 0;
  s->n = 0;
  buf[0] = 0;
  for (uint32_t i = 0; i < c->nslots; i++) {
    /* A process that exited before it froze is not in the image (ctl_snapshot.c). */
    if (__atomic_load_n(&c->slots[i].state, __ATOMIC_ACQUIRE) == AMBER_AGENT_EXITED) continue;
    int32_t vpid = c->slots[i].vpid, pid = amber_v2s(t, AMBER_KIND_PID, vpid);
    if (pid > 0) pid = amber_live_task(pid);
    int err = pid > 0 ? list_fds(s, vpid, pid) : -ESRCH;
    if (!err) err = list_maps(s, vpid, pid);
    if (err == -E2BIG) {
      snprintf(buf, cap, "the application holds more than %d descriptors and shared mappings",
               AMBER_SHARE_MAX);
      return err;
    }
    if (err) {
      struct stat st;
      char proc[32];
      snprintf(proc, sizeof proc, "/proc/%d", pid);
      int uid = stat(proc, &st) ? -1 : (int)st.st_uid;
      snprintf(buf, cap,
               "cannot list the descriptors of process %d (user %d) to find what it shares: %s "
               "(take the snapshot as the user who launched the application, or as root)",
               vpid, uid, strerror(-err));
      return err;
    }
  }
  int err = amber_ctl_clone_sharing_check(t, buf, cap);
  if (!err) err = amber_share_namespaces(t, buf, cap);
  if (err) return err;
  find_owners(s);
  find_std_streams(t, s);
  int outside = amber_share_fifo_outside(t, buf, cap); /* ctl_fifo_outside.c */
  if (!outside) outside = amber_share_rights_outside(t, buf, cap); /* ctl_rights_outside.c */
  if (outside) return outside;
  __atomic_store_n(&s->ready, 1, __ATOMIC_RELEASE);
  return amber_ctl_shm_files_save(t, c->image_dir, buf, cap); /* knowing what is mapped */
}
