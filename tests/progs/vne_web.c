/* WEB SITE: a small HTTP server in a VNE. Listens on PORT (80 works without privilege under
 * Amber), says "ready", and answers every request by asking BACKEND (a VNE hostname or
 * virtual IP) at BACKEND_PORT for one line: 200 with "web <hostname>: <line>", or 502 with
 * the reason when the backend cannot be reached.
 *
 *   vne_web PORT BACKEND BACKEND_PORT */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "check.h"

static int ask_backend(const char *host, const char *port, char *out, size_t cap) {
  struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res;
  int g = getaddrinfo(host, port, &hints, &res);
  if (g) return snprintf(out, cap, "cannot resolve %s: %s", host, gai_strerror(g)), -1;
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct timeval tv = {2, 0};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  int r = connect(s, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  if (r) {
    snprintf(out, cap, "cannot connect to %s:%s: %s", host, port, strerror(errno));
    close(s);
    return -1;
  }
  ssize_t n = read(s, out, cap - 1);
  close(s);
  if (n <= 0) return snprintf(out, cap, "no answer from %s:%s", host, port), -1;
  out[n] = 0;
  if (n > 0 && out[n - 1] == '\n') out[n - 1] = 0;
  return 0;
}

int main(int argc, char **argv) {
  CHECK(argc == 4, "usage: vne_web PORT BACKEND BACKEND_PORT");
  int s = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
  CHECK(bind(s, (struct sockaddr *)&a, sizeof a) == 0, "bind: errno %d", errno);
  CHECK(listen(s, 64) == 0, "listen: errno %d", errno);
  char host[128] = "?";
  gethostname(host, sizeof host);
  printf("ready\n");
  fflush(stdout);
  for (;;) {
    int c = accept(s, NULL, NULL);
    if (c < 0) continue;
    char req[2048];
    struct timeval tv = {2, 0};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssize_t got = read(c, req, sizeof req - 1); /* one small request: no body, no keep-alive */
    (void)got;
    char line[512], body[700], head[256];
    int ok = ask_backend(argv[2], argv[3], line, sizeof line) == 0;
    int n = snprintf(body, sizeof body, "web %s: %s\n", host, line);
    int h = snprintf(head, sizeof head,
                     "HTTP/1.0 %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                     "Connection: close\r\n\r\n",
                     ok ? "200 OK" : "502 Bad Gateway", n);
    if (write(c, head, (size_t)h) == h && write(c, body, (size_t)n) == n) {}
    close(c);
  }
}
