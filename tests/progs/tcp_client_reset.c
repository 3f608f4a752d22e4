/* A TCP client connected to 127.0.0.1:PORT: after a restore its connection comes back reset,
 * as a restarted server's peer would see it. It sends "hello", says "ready", waits for
 * DIR/go, then reads: ECONNRESET or end of file is what it expects, and a send afterwards must
 * fail with ECONNRESET or EPIPE. Prints "read: reset" or "read: eof", then "PASS".
 *
 *   tcp_client_reset PORT DIR */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "wait_go.h"

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  CHECK(argc == 3, "usage: tcp_client_reset PORT DIR");
  int s = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(s >= 0, "socket: errno %d", errno);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1])),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  CHECK(connect(s, (struct sockaddr *)&a, sizeof a) == 0, "connect: errno %d", errno);
  CHECK(send(s, "hello", 5, 0) == 5, "send: errno %d", errno);
  say_ready();
  wait_go(argv[2]);

  alarm(20); /* a read that blocks means the connection did not come back reset */
  char buf[64];
  ssize_t n = recv(s, buf, sizeof buf, 0);
  CHECK(n == 0 || (n < 0 && errno == ECONNRESET), "recv returned %zd, errno %d", n, errno);
  printf("read: %s\n", n == 0 ? "eof" : "reset");
  CHECK(!(fcntl(s, F_GETFL) & O_NONBLOCK), "the socket became non-blocking");
  int type = 0;
  socklen_t len = sizeof type;
  CHECK(getsockopt(s, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM,
        "not a stream socket any more");
  ssize_t w = send(s, "again", 5, MSG_NOSIGNAL);
  CHECK(w < 0 && (errno == EPIPE || errno == ECONNRESET), "send returned %zd, errno %d", w, errno);
  printf("PASS\n");
  return 0;
}
