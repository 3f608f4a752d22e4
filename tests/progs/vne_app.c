/* APP: a TCP server in a VNE. Listens on PORT (any address), says "ready", then answers each
 * connection with one line, "app <n> from <peer ip>:<port> on <hostname>", where n counts
 * the connections since the program started (kept in memory, so it goes on across a
 * snapshot, restore or migration), and closes it.
 *
 * With MIB, it first fills that many MiB of heap with a pattern (for migrations of a given
 * size); the pattern is checked on every connection, and a damaged one answers "FAIL".
 *
 *   vne_app PORT [MIB] */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"

int main(int argc, char **argv) {
  CHECK(argc == 2 || argc == 3, "usage: vne_app PORT [MIB]");
  size_t words = argc == 3 ? (size_t)atol(argv[2]) << 17 : 0; /* 8-byte words */
  uint64_t *heap = words ? malloc(words * 8) : NULL;
  CHECK(!words || heap, "cannot allocate %s MiB", argv[2]);
  for (size_t i = 0; i < words; i++) heap[i] = i * 0x9e3779b97f4a7c15ULL;
  int s = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(s >= 0, "socket: errno %d", errno);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
  CHECK(bind(s, (struct sockaddr *)&a, sizeof a) == 0, "bind: errno %d", errno);
  CHECK(listen(s, 64) == 0, "listen: errno %d", errno);
  char host[128] = "?";
  gethostname(host, sizeof host);
  printf("ready\n");
  fflush(stdout);
  for (long n = 1;; n++) {
    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    int c = accept(s, (struct sockaddr *)&peer, &len);
    if (c < 0) {
      n--;
      continue;
    }
    int intact = 1;
    for (size_t i = 0; i < words; i += 512) intact &= heap[i] == i * 0x9e3779b97f4a7c15ULL;
    char line[256];
    int k = intact ? 0 : snprintf(line, sizeof line, "FAIL: heap damaged\n");
    k += snprintf(line + k, sizeof line - (size_t)k, "app %ld from %s:%d on %s\n", n, inet_ntoa(peer.sin_addr),
                     ntohs(peer.sin_port), host);
    if (write(c, line, (size_t)k) != k) n--;
    close(c);
  }
}
