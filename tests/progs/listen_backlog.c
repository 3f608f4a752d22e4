/* A server that has not accepted the connections waiting on its listener (TCP on 127.0.0.1, or
 * Unix at DIR/listen.sock) when the snapshot lands. They are not in the image (the snapshot
 * names them; their clients see them reset when the original ends); after the restore the
 * listener accepts a new connection, and nothing of the old ones is waiting.
 *
 *   listen_backlog DIR tcp|unix   prints "port N" (tcp), then "ready"; after DIR/go accepts
 *                                 one connection, answers "hi", prints "PASS" */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "check.h"
#include "wait_go.h"

static int listen_tcp(void) {
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof a;
  CHECK(l >= 0 && bind(l, (struct sockaddr *)&a, sizeof a) == 0 && listen(l, 8) == 0 &&
            getsockname(l, (struct sockaddr *)&a, &alen) == 0,
        "listen: errno %d", errno);
  printf("port %d\n", ntohs(a.sin_port));
  return l;
}

static int listen_unix(const char *dir) {
  int l = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  snprintf(a.sun_path, sizeof a.sun_path, "%s/listen.sock", dir);
  CHECK(l >= 0 && bind(l, (struct sockaddr *)&a, sizeof a) == 0 && listen(l, 8) == 0,
        "listen: errno %d", errno);
  return l;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  CHECK(argc == 3, "usage: listen_backlog DIR tcp|unix");
  int l = strcmp(argv[2], "unix") ? listen_tcp() : listen_unix(argv[1]);
  say_ready();
  wait_go(argv[1]);
  struct pollfd p = {l, POLLIN, 0};
  CHECK(poll(&p, 1, 20000) == 1, "no connection after the restore");
  int c = accept(l, NULL, NULL);
  CHECK(c >= 0, "accept: errno %d", errno);
  CHECK(write(c, "hi\n", 3) == 3, "write: errno %d", errno);
  close(c);
  p.revents = 0;
  CHECK(poll(&p, 1, 200) == 0, "another connection is waiting");
  printf("PASS\n");
  return 0;
}
