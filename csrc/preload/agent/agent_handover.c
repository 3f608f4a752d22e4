/* The agent's side of control/ctl_handover.c: a process that may not reach the image
 * directory (it switched to another user) asks the coordinator for its own process file. */
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "agent.h"

int amber_handover_take(void) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  size_t n = strnlen(amber.table->handover, sizeof amber.table->handover);
  if (n == 0 || n >= sizeof amber.table->handover || n + 1 >= sizeof addr.sun_path) return -EACCES;
  memcpy(addr.sun_path + 1, amber.table->handover, n);
  int s = (int)amber_sys3(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return s;
  struct timeval timeout = {10, 0};
  amber_sys5(SYS_setsockopt, s, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  long r = amber_sys3(SYS_connect, s, &addr, __builtin_offsetof(struct sockaddr_un, sun_path) + 1 + n);
  int32_t status = -EPROTO;
  int fd = -1;
  if (r == 0) {
    char control[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {&status, sizeof status};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                         .msg_controllen = sizeof control};
    r = amber_sys3(SYS_recvmsg, s, &msg, MSG_CMSG_CLOEXEC);
    struct cmsghdr *c = r == sizeof status ? CMSG_FIRSTHDR(&msg) : NULL;
    if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
      memcpy(&fd, CMSG_DATA(c), sizeof fd);
    if (r < 0) status = (int32_t)r;
  } else {
    status = (int32_t)r;
  }
  amber_sys1(SYS_close, s);
  if (fd >= 0 && status == 0) return fd;
  if (fd >= 0) amber_sys1(SYS_close, fd);
  return status < 0 ? status : -EPROTO;
}
