/* Process files handed over: a process that switched to another user (a server that dropped
 * root) may not reach the coordinator's image directory, and must not be let into it: there
 * it could read other processes' memory, or keep a file open to rewrite it after the
 * snapshot. Instead the coordinator opens the process's own file and hands it the descriptor.
 * While a snapshot writes, a thread of the coordinator listens on an abstract Unix socket whose
 * random name is in the tables (amber_table.handover); a process that cannot create its file
 * connects, the kernel says which process it is (SO_PEERCRED), and if that is a process of the
 * application being snapshotted it gets process-<its vpid>.img, and nothing else. */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../common/image.h"
#include "../common/table.h"
#include "../common/broker.h"
#include "control.h"

#define MAX_SERVERS 16

static struct server {
  struct amber_table *table;
  int listener;
  pthread_t thread;
  char dir[AMBER_CTL_PATH];
} servers[MAX_SERVERS];
static pthread_mutex_t servers_lock = PTHREAD_MUTEX_INITIALIZER;

/* The vpid of the frozen process with system pid `pid`, or -1. */
static int32_t frozen_vpid(struct amber_table *t, pid_t pid) {
  int32_t vpid = amber_s2v(t, AMBER_KIND_PID, pid);
  for (uint32_t i = 0; vpid > 0 && i < t->ctl.nslots && i < AMBER_CTL_MAX_PROCS; i++)
    if (t->ctl.slots[i].vpid == vpid && amber_v2s(t, AMBER_KIND_PID, vpid) == pid) return vpid;
  return -1;
}

/* A migration reads each process file as it comes, from a FIFO whose reading end the coordinator
 * opens in its own time: until it has (ENXIO), wait, as the agent does for its own
 * (agent_sink.c), while the snapshot still wants the file. */
static int open_fifo(struct amber_table *t, const char *path) {
  for (int waited_ms = 0;; waited_ms++) {
    int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0 || errno != ENXIO || waited_ms >= 30000 ||
        __atomic_load_n(&t->ctl.phase, __ATOMIC_ACQUIRE) != AMBER_PHASE_WRITE)
      return fd;
    usleep(1000);
  }
}

static int open_process_file(struct amber_table *t, const char *dir, int32_t vpid) {
  char path[AMBER_CTL_PATH + 64];
  snprintf(path, sizeof path, AMBER_PROC_FILE_FMT, dir, vpid);
  struct stat st;
  if (lstat(path, &st) == 0 && S_ISFIFO(st.st_mode)) return open_fifo(t, path);
  return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
}

static void answer(struct server *s, int conn) {
  struct ucred cred;
  socklen_t len = sizeof cred;
  int32_t status = -EPERM;
  int fd = -1;
  if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
      __atomic_load_n(&s->table->ctl.phase, __ATOMIC_ACQUIRE) == AMBER_PHASE_WRITE) {
    int32_t vpid = amber_app_member(s->table, cred.pid) ? frozen_vpid(s->table, cred.pid) : -1;
    if (vpid > 0) fd = open_process_file(s->table, s->dir, vpid);
    status = vpid <= 0 ? -EPERM : fd < 0 ? -errno : 0;
  }
  char control[CMSG_SPACE(sizeof(int))] = {0};
  struct iovec iov = {&status, sizeof status};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  amber_attach_fd(&msg, control, fd);
  sendmsg(conn, &msg, MSG_NOSIGNAL);
  if (fd >= 0) close(fd);
}

static void *serve(void *arg) {
  struct server *s = arg;
  for (;;) {
    int conn = accept4(s->listener, NULL, NULL, SOCK_CLOEXEC);
    if (conn < 0 && errno == EINTR) continue;
    if (conn < 0) break; /* shut down: the snapshot has written */
    answer(s, conn);
    close(conn);
  }
  return NULL;
}

int amber_handover_start(struct amber_table *t, const char *dir) {
  pthread_mutex_lock(&servers_lock);
  struct server *s = NULL;
  for (int i = 0; i < MAX_SERVERS && !s; i++)
    if (!servers[i].table) s = &servers[i];
  int err = s ? 0 : -EBUSY;
  int fd = err ? -1 : socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (!err && fd < 0) err = -errno;
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  unsigned char random[12];
  int rnd = err ? -1 : open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (!err && (rnd < 0 || read(rnd, random, sizeof random) != sizeof random)) err = -EIO;
  if (rnd >= 0) close(rnd);
  if (!err) {
    int n = snprintf(addr.sun_path + 1, sizeof addr.sun_path - 1, "amber-handover-");
    for (size_t i = 0; i < sizeof random; i++)
      n += snprintf(addr.sun_path + 1 + n, sizeof addr.sun_path - 1 - n, "%02x", random[i]);
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
    if (bind(fd, (struct sockaddr *)&addr, len) || listen(fd, 64)) err = -errno;
  }
  if (!err) {
    s->table = t;
    s->listener = fd;
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    err = -pthread_create(&s->thread, NULL, serve, s);
    if (err) s->table = NULL;
  }
  if (err && fd >= 0) close(fd);
  if (!err) snprintf(t->handover, sizeof t->handover, "%s", addr.sun_path + 1);
  pthread_mutex_unlock(&servers_lock);
  return err;
}

void amber_handover_stop(struct amber_table *t) {
  pthread_mutex_lock(&servers_lock);
  for (int i = 0; i < MAX_SERVERS; i++) {
    struct server *s = &servers[i];
    if (s->table != t) continue;
    t->handover[0] = 0;
    shutdown(s->listener, SHUT_RDWR); /* accept returns: the thread ends */
    pthread_join(s->thread, NULL);
    close(s->listener);
    s->table = NULL;
  }
  pthread_mutex_unlock(&servers_lock);
}
