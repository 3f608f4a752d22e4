/* A Unix stream socket connected to a server outside the application (the test's), which has
 * sent it "hi" when the snapshot lands. Says "ready", waits for DIR/go, then checks that the
 * restored socket reads "hi", then ECONNRESET, then end of file, and that sending fails with
 * EPIPE: the connection comes back reset, as a TCP connection to an outside peer does. Prints
 * "PASS".
 *
 *   unix_outside_peer PATH DIR */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "check.h"
#include "wait_go.h"

int main(int argc, char **argv) {
  CHECK(argc == 3, "usage: unix_outside_peer PATH DIR");
  signal(SIGPIPE, SIG_IGN);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s", argv[1]);
  int c = socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK(c >= 0, "socket: errno %d", errno);
  CHECK(connect(c, (struct sockaddr *)&addr, sizeof addr) == 0, "connect: errno %d", errno);
  say_ready();
  wait_go(argv[2]);
  char buf[16];
  ssize_t n = recv(c, buf, sizeof buf, MSG_DONTWAIT);
  CHECK(n == 2 && !memcmp(buf, "hi", 2), "read %zd bytes (errno %d), expected hi", n, errno);
  n = recv(c, buf, sizeof buf, MSG_DONTWAIT);
  CHECK(n < 0 && errno == ECONNRESET, "read gave %zd (errno %d), expected ECONNRESET", n, errno);
  n = recv(c, buf, sizeof buf, MSG_DONTWAIT);
  CHECK(n == 0, "read gave %zd (errno %d), expected end of file", n, errno);
  n = send(c, "x", 1, 0);
  CHECK(n < 0 && errno == EPIPE, "send gave %zd (errno %d), expected EPIPE", n, errno);
  printf("PASS\n");
  return 0;
}
