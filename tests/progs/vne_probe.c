/* Connects to IP:PORT (TCP) once and prints what happened: "connected <line>" with the first
 * line the server sent, or "error <ERRNO NAME>". Used to show that an application of one VNE
 * cannot reach another VNE's addresses.
 *
 *   vne_probe IP|HOSTNAME PORT */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"

static const char *errno_name(int e) {
  switch (e) {
  case ENETUNREACH: return "ENETUNREACH";
  case EHOSTUNREACH: return "EHOSTUNREACH";
  case ECONNREFUSED: return "ECONNREFUSED";
  case ETIMEDOUT: return "ETIMEDOUT";
  default: return strerror(e);
  }
}

int main(int argc, char **argv) {
  CHECK(argc == 3, "usage: vne_probe IP PORT");
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
  if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) { /* a hostname of the VNE */
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res;
    CHECK(getaddrinfo(argv[1], NULL, &hints, &res) == 0, "cannot resolve %s", argv[1]);
    a.sin_addr = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
    freeaddrinfo(res);
  }
  int s = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
    printf("error %s\n", errno_name(errno));
    return 0;
  }
  char line[256] = "";
  ssize_t n = read(s, line, sizeof line - 1);
  line[n > 0 ? n : 0] = 0;
  printf("connected %s", line);
  return 0;
}
