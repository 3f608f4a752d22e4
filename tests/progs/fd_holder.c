/* A process outside the application that holds a descriptor of it: connects to the Unix socket
 * PATH (retrying until it is there), receives one descriptor (SCM_RIGHTS), prints "held" and
 * keeps it until killed.
 *
 *   fd_holder PATH */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  CHECK(argc == 2, "usage: fd_holder PATH");
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  snprintf(a.sun_path, sizeof a.sun_path, "%s", argv[1]);
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  for (int i = 0; connect(s, (struct sockaddr *)&a, sizeof a) != 0; i++) {
    CHECK(i < 1000, "connect %s: errno %d", argv[1], errno);
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  char byte, control[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {&byte, 1};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                       .msg_controllen = sizeof control};
  CHECK(recvmsg(s, &msg, 0) == 1 && CMSG_FIRSTHDR(&msg), "recvmsg: errno %d", errno);
  printf("held\n");
  for (;;) pause();
}
