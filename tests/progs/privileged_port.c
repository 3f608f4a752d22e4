/* A daemon that binds a privileged port as root, then gives root up, as many do: a restore
 * binds the port again as the process's own user, which it may not, so a snapshot must refuse,
 * naming the descriptor and the port, before anything is ended. Listens on 127.0.0.1:PORT, then
 * becomes nobody, prints "ready", and answers each connection with "hello <n>" (n counting from
 * 1), so a test sees it runs on after the refusal.
 *
 *   privileged_port PORT */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: privileged_port PORT");
  int s = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(s >= 0, "socket: errno %d", errno);
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(bind(s, (struct sockaddr *)&a, sizeof a) == 0, "bind: errno %d", errno);
  CHECK(listen(s, 16) == 0, "listen: errno %d", errno);
  CHECK(setgroups(0, NULL) == 0 && setresgid(65534, 65534, 65534) == 0 &&
            setresuid(65534, 65534, 65534) == 0,
        "cannot become nobody: errno %d", errno);
  printf("ready\n");
  fflush(stdout);
  for (int n = 1;; n++) {
    int c = accept(s, NULL, NULL);
    if (c < 0) continue;
    char line[32];
    int len = snprintf(line, sizeof line, "hello %d\n", n);
    CHECK(write(c, line, (size_t)len) == len, "write: errno %d", errno);
    close(c);
  }
}
