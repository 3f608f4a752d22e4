/* A UDP socket's mark (SO_MARK: policy routing), set while the process had CAP_NET_ADMIN and
 * CAP_NET_RAW, which it then dropped (effective and permitted), as a daemon does once set up. A restore
 * cannot set the mark again without the capability: it must fail naming the descriptor and
 * the option rather than give the socket back unmarked.
 *
 *   mark_dropped DIR   says "ready", waits for DIR/go, checks the mark; prints PASS. */
#include <errno.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"
#include "wait_go.h"

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: mark_dropped DIR");
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  int mark = 42, got = 0;
  socklen_t len = sizeof got;
  CHECK(fd >= 0, "socket: errno %d", errno);
  CHECK(setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) == 0, "SO_MARK: errno %d", errno);
  struct __user_cap_header_struct head = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct caps[2];
  CHECK(syscall(SYS_capget, &head, caps) == 0, "capget: errno %d", errno);
  for (int i = 0; i < 2; i++) { /* either lets a process set a mark */
    int cap = i ? CAP_NET_RAW : CAP_NET_ADMIN;
    caps[cap / 32].effective &= ~(1u << (cap % 32));
    caps[cap / 32].permitted &= ~(1u << (cap % 32));
    caps[cap / 32].inheritable &= ~(1u << (cap % 32));
  }
  CHECK(syscall(SYS_capset, &head, caps) == 0, "capset: errno %d", errno);
  CHECK(setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) == -1 && errno == EPERM,
        "SO_MARK without CAP_NET_ADMIN: not EPERM");
  say_ready();
  wait_go(argv[1]);
  CHECK(getsockopt(fd, SOL_SOCKET, SO_MARK, &got, &len) == 0 && got == mark,
        "the socket's mark is %d, not %d", got, mark);
  printf("PASS\n");
  return 0;
}
