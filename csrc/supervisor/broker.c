/* The supervisor's side of the descriptor broker (common/broker.h), on its own thread. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../common/broker.h"
#include "supervisor.h"

#define MAX_CLIENTS 300

struct entry {
  uint64_t k1, k2;
  int fd;
};

/* As many as the restore puts: every description shared, both ends of every socket pair (an
 * application whose server has hundreds of local clients puts thousands), held until every
 * process is done. */
static struct entry *entries;
static int nentries, room;
static struct pollfd polls[MAX_CLIENTS + 1];
static struct amber_broker_msg waiting[MAX_CLIENTS + 1]; /* a client's unanswered GET */
static int nclients_expected, ndone;

static int find(uint64_t k1, uint64_t k2) {
  for (int i = 0; i < nentries; i++)
    if (entries[i].k1 == k1 && entries[i].k2 == k2) return entries[i].fd;
  return -1;
}

static int send_fd(int sock, const struct amber_broker_msg *m, int fd) {
  char control[CMSG_SPACE(sizeof(int))] = {0};
  struct iovec iov = {(void *)m, sizeof *m};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  amber_attach_fd(&msg, control, fd);
  return sendmsg(sock, &msg, MSG_NOSIGNAL) == sizeof *m ? 0 : -1;
}

static int recv_msg(int sock, struct amber_broker_msg *m, int *fd) {
  char control[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {m, sizeof *m};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                       .msg_controllen = sizeof control};
  ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  if (n != sizeof *m) return -1;
  *fd = -1;
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  if (c && c->cmsg_type == SCM_RIGHTS) memcpy(fd, CMSG_DATA(c), sizeof *fd);
  return 0;
}

/* Answers every waiting GET that can be answered now. */
static void answer_waiting(void) {
  for (int i = 1; i <= MAX_CLIENTS; i++) {
    if (polls[i].fd < 0 || waiting[i].op != AMBER_BROKER_GET) continue;
    int fd = find(waiting[i].k1, waiting[i].k2);
    if (fd < 0) continue;
    struct amber_broker_msg reply = waiting[i];
    reply.op = AMBER_BROKER_GIVE;
    send_fd(polls[i].fd, &reply, fd);
    waiting[i].op = 0;
  }
}

static int keep(uint64_t k1, uint64_t k2, int fd) {
  if (nentries == room) {
    int more = room ? room * 2 : 4096;
    struct entry *grown = realloc(entries, sizeof *entries * (size_t)more);
    if (!grown) return -1;
    entries = grown, room = more;
  }
  entries[nentries++] = (struct entry){k1, k2, fd};
  return 0;
}

static void drop_everything(void) {
  for (int i = 0; i < nentries; i++) close(entries[i].fd);
  nentries = 0;
}

static void serve_client(int i) {
  struct amber_broker_msg m;
  int fd;
  if (recv_msg(polls[i].fd, &m, &fd)) {
    close(polls[i].fd);
    polls[i].fd = -1;
    return;
  }
  if (m.op == AMBER_BROKER_PUT && fd >= 0 && (find(m.k1, m.k2) >= 0 || keep(m.k1, m.k2, fd)))
    close(fd);
  else if (m.op == AMBER_BROKER_GET)
    waiting[i] = m;
  else if (m.op == AMBER_BROKER_DONE && ++ndone >= nclients_expected)
    drop_everything();
  answer_waiting();
}

static void accept_client(int listener) {
  int c = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
  if (c < 0) return;
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) || cred.uid != getuid()) {
    close(c); /* only the application's owner may talk to its broker */
    return;
  }
  for (int i = 1; i <= MAX_CLIENTS; i++)
    if (polls[i].fd < 0) {
      polls[i] = (struct pollfd){c, POLLIN, 0};
      waiting[i].op = 0;
      return;
    }
  close(c);
}

static void *broker_main(void *arg) {
  for (;;) {
    if (poll(polls, MAX_CLIENTS + 1, -1) < 0 && errno != EINTR) break;
    if (polls[0].revents & POLLIN) accept_client(polls[0].fd);
    for (int i = 1; i <= MAX_CLIENTS; i++)
      if (polls[i].fd >= 0 && polls[i].revents) serve_client(i);
  }
  return arg;
}

int sup_broker_start(const char *app_dir, int nprocesses) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (snprintf(addr.sun_path, sizeof addr.sun_path, "%s/%s", app_dir, AMBER_BROKER_SOCKET) >=
      (int)sizeof addr.sun_path)
    return -ENAMETOOLONG;
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  unlink(addr.sun_path);
  if (s < 0 || bind(s, (struct sockaddr *)&addr, sizeof addr) || listen(s, 128)) return -errno;
  nclients_expected = nprocesses;
  polls[0] = (struct pollfd){s, POLLIN, 0};
  for (int i = 1; i <= MAX_CLIENTS; i++) polls[i].fd = -1;
  pthread_t thread;
  int err = pthread_create(&thread, NULL, broker_main, NULL);
  if (err) return -err;
  pthread_detach(thread);
  return 0;
}
