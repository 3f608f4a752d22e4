/* A TCP client connected to 127.0.0.1:PORT whose connection must survive a snapshot taken
 * with the TCP flag: the line the server sent before the snapshot, still unread, is read after
 * the restore; then it sends "after" and reads the server's "bye", all on the one connection.
 *
 *   tcp_kept PORT DIR */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "check.h"
#include "wait_go.h"

static void expect(int s, const char *want) {
  char buf[64] = {0};
  size_t n = strlen(want), got = 0;
  while (got < n) {
    ssize_t r = recv(s, buf + got, n - got, 0);
    CHECK(r > 0, "recv: %zd, errno %d, after '%s'", r, errno, buf);
    got += (size_t)r;
  }
  CHECK(!strcmp(buf, want), "received '%s', not '%s'", buf, want);
}

int main(int argc, char **argv) {
  CHECK(argc == 3, "usage: tcp_kept PORT DIR");
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1])),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  CHECK(connect(s, (struct sockaddr *)&a, sizeof a) == 0, "connect: errno %d", errno);
  struct timeval patience = {10, 0}; /* a lost connection fails the test, not hangs it */
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof patience);
  CHECK(send(s, "hello\n", 6, 0) == 6, "send");
  say_ready();
  wait_go(argv[2]);
  expect(s, "before\n");
  CHECK(send(s, "after\n", 6, 0) == 6, "send after the restore: errno %d", errno);
  expect(s, "bye\n");
  printf("PASS\n");
  return 0;
}
