/* The restored process's side of the descriptor broker (common/broker.h). Objects this
 * process PUTs are also kept locally, so a process that needs its own object again, or a
 * restore of a single process, never waits on the supervisor. */
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "../../common/broker.h"
#include "agent_share.h"

#define LOCAL_MAX 1024

static struct {
  uint64_t k1, k2;
  int fd;
} local[LOCAL_MAX];
static int nlocal;
static int broker = -1;
static int floor_fd; /* local copies live above every descriptor being placed */

int amber_fds_floor(void);

int amber_broker_open(void) {
  nlocal = 0;
  floor_fd = amber_fds_floor();
  if (amber_restore_args.nprocesses <= 1) return 0;
  if (amber_restore_args.broker_fd >= 0) { /* reached by the restorer (restorer/broker.c) */
    broker = (int)amber_sys3(SYS_fcntl, amber_restore_args.broker_fd, F_DUPFD_CLOEXEC, floor_fd);
    amber_sys1(SYS_close, amber_restore_args.broker_fd);
    amber_restore_args.broker_fd = -1;
    if (broker < 0) return broker;
    struct timeval timeout = {20, 0};
    amber_sys5(SYS_setsockopt, broker, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    return 0;
  }
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (amber_fmt(addr.sun_path, sizeof addr.sun_path, "%s/%s", amber.app_dir, AMBER_BROKER_SOCKET) >=
      (int)sizeof addr.sun_path)
    return -ENAMETOOLONG; /* cut short, it would name another socket */
  broker = (int)amber_sys3(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (broker < 0) return broker;
  int high = (int)amber_sys3(SYS_fcntl, broker, F_DUPFD_CLOEXEC, floor_fd);
  amber_sys1(SYS_close, broker);
  broker = high;
  struct timeval timeout = {20, 0}; /* a GET nobody answers must not hang the restore */
  amber_sys5(SYS_setsockopt, broker, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  long r = amber_sys3(SYS_connect, broker, &addr, sizeof addr);
  if (r < 0) {
    amber_sys1(SYS_close, broker);
    broker = -1;
    return (int)r;
  }
  return 0;
}

static long send_msg(uint32_t op, uint64_t k1, uint64_t k2, int fd) {
  struct amber_broker_msg m = {op, 0, k1, k2};
  char control[CMSG_SPACE(sizeof(int))];
  memset(control, 0, sizeof control);
  struct iovec iov = {&m, sizeof m};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  amber_attach_fd(&msg, control, fd);
  return amber_sys3(SYS_sendmsg, broker, &msg, MSG_NOSIGNAL);
}

int amber_broker_put(uint64_t k1, uint64_t k2, int fd) {
  if (nlocal < LOCAL_MAX) {
    int copy = (int)amber_sys3(SYS_fcntl, fd, F_DUPFD_CLOEXEC, floor_fd);
    if (copy >= 0) local[nlocal].k1 = k1, local[nlocal].k2 = k2, local[nlocal++].fd = copy;
  }
  if (broker < 0) return 0;
  long r = send_msg(AMBER_BROKER_PUT, k1, k2, fd);
  return r < 0 ? (int)r : 0;
}

int amber_broker_get(uint64_t k1, uint64_t k2) {
  for (int i = 0; i < nlocal; i++)
    if (local[i].k1 == k1 && local[i].k2 == k2)
      return (int)amber_sys3(SYS_fcntl, local[i].fd, F_DUPFD_CLOEXEC, floor_fd);
  if (broker < 0) return -ENOENT;
  long r = send_msg(AMBER_BROKER_GET, k1, k2, -1);
  if (r < 0) return (int)r;
  struct amber_broker_msg m;
  char control[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {&m, sizeof m};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                       .msg_controllen = sizeof control};
  r = amber_sys3(SYS_recvmsg, broker, &msg, MSG_CMSG_CLOEXEC);
  if (r != sizeof m) return r < 0 ? (int)r : -EPROTO;
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_type != SCM_RIGHTS) return -EPROTO;
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

void amber_broker_drop_local(void) {
  for (int i = 0; i < nlocal; i++) amber_sys1(SYS_close, local[i].fd);
  nlocal = 0;
}

void amber_broker_close(void) {
  amber_broker_drop_local();
  if (broker < 0) return;
  send_msg(AMBER_BROKER_DONE, 0, 0, -1);
  amber_sys1(SYS_close, broker);
  broker = -1;
}
