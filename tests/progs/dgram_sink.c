/* A Unix datagram server outside the application: binds PATH, says "bound", prints the first
 * datagram it receives (within 20 s) and ends.
 *
 *   dgram_sink PATH */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include "check.h"

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: dgram_sink PATH");
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s", argv[1]);
  int s = socket(AF_UNIX, SOCK_DGRAM, 0);
  CHECK(s >= 0 && bind(s, (struct sockaddr *)&addr, sizeof addr) == 0, "bind: errno %d", errno);
  struct timeval patience = {20, 0};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof patience);
  printf("bound\n");
  fflush(stdout);
  char buf[256] = {0};
  ssize_t n = recv(s, buf, sizeof buf - 1, 0);
  CHECK(n >= 0, "recv: errno %d", errno);
  printf("received %s\n", buf);
  return 0;
}
