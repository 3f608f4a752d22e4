/* What a program in a VNE sees, checked from inside: it binds port 80 of its virtual IP
 * without privilege, getsockname, getpeername, accept and recvfrom give virtual addresses,
 * its hostname resolves to its virtual IP, addresses nobody holds are refused with the right
 * error, another VNE's subnet is unreachable, and closing a socket frees its virtual port.
 * Prints "PASS".
 *
 *   vne_check VIP HOSTNAME FREE_VIP OTHER_VNE_IP */
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

static struct sockaddr_in addr(const char *ip, int port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  CHECK(inet_pton(AF_INET, ip, &a.sin_addr) == 1, "bad address %s", ip);
  return a;
}

static const char *text(const struct sockaddr_in *a) {
  static char buf[4][32];
  static int i;
  char *b = buf[i++ % 4];
  snprintf(b, 32, "%s:%d", inet_ntoa(a->sin_addr), ntohs(a->sin_port));
  return b;
}

static int same(const struct sockaddr_in *a, const struct sockaddr_in *b) {
  return a->sin_addr.s_addr == b->sin_addr.s_addr && a->sin_port == b->sin_port;
}

static int listener(const struct sockaddr_in *a) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  if (bind(s, (const struct sockaddr *)a, sizeof *a) != 0) {
    int e = errno;
    close(s);
    errno = e;
    return -1;
  }
  CHECK(listen(s, 8) == 0, "listen: errno %d", errno);
  return s;
}

static int connect_error(const struct sockaddr_in *a) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  int r = connect(s, (const struct sockaddr *)a, sizeof *a);
  int e = r == 0 ? 0 : errno;
  close(s);
  return e;
}

int main(int argc, char **argv) {
  CHECK(argc == 5, "usage: vne_check VIP HOSTNAME FREE_VIP OTHER_VNE_IP");
  struct sockaddr_in web = addr(argv[1], 80), got;
  socklen_t len = sizeof got;

  int s = listener(&web);
  CHECK(s >= 0, "bind %s: errno %d", text(&web), errno);
  CHECK(getsockname(s, (struct sockaddr *)&got, &len) == 0 && same(&got, &web),
        "getsockname gave %s, expected %s", text(&got), text(&web));
  CHECK(listener(&web) < 0 && errno == EADDRINUSE, "a second bind of %s: errno %d", text(&web),
        errno);
  struct sockaddr_in free_vip = addr(argv[3], 80);
  CHECK(listener(&free_vip) < 0 && errno == EADDRNOTAVAIL, "bind %s: errno %d", text(&free_vip),
        errno);

  int c = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(connect(c, (struct sockaddr *)&web, sizeof web) == 0, "connect %s: errno %d", text(&web),
        errno);
  struct sockaddr_in mine, peer, accepted;
  len = sizeof mine;
  CHECK(getsockname(c, (struct sockaddr *)&mine, &len) == 0, "getsockname: errno %d", errno);
  CHECK(mine.sin_addr.s_addr == web.sin_addr.s_addr, "the client's address is %s", text(&mine));
  len = sizeof peer;
  CHECK(getpeername(c, (struct sockaddr *)&peer, &len) == 0 && same(&peer, &web),
        "getpeername gave %s", text(&peer));
  len = sizeof accepted;
  int a = accept(s, (struct sockaddr *)&accepted, &len);
  CHECK(a >= 0 && same(&accepted, &mine), "accept gave %s, the client is %s", text(&accepted),
        text(&mine));
  char b = 0;
  CHECK(write(c, "x", 1) == 1 && read(a, &b, 1) == 1 && b == 'x', "no byte across");
  close(a);
  close(c);
  printf("tcp: ok\n");

  struct hostent *h = gethostbyname(argv[2]);
  CHECK(h && h->h_addrtype == AF_INET && !memcmp(h->h_addr_list[0], &web.sin_addr, 4),
        "gethostbyname(%s) did not give %s", argv[2], argv[1]);
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
  CHECK(getaddrinfo(argv[2], "80", &hints, &res) == 0, "getaddrinfo(%s) failed", argv[2]);
  CHECK(res->ai_family == AF_INET && same((struct sockaddr_in *)res->ai_addr, &web),
        "getaddrinfo(%s) gave %s", argv[2], text((struct sockaddr_in *)res->ai_addr));
  freeaddrinfo(res);
  printf("names: ok\n");

  struct sockaddr_in dns = addr(argv[1], 53);
  int u = socket(AF_INET, SOCK_DGRAM, 0), v = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK(bind(u, (struct sockaddr *)&dns, sizeof dns) == 0, "bind udp %s: errno %d", text(&dns),
        errno);
  CHECK(sendto(v, "y", 1, 0, (struct sockaddr *)&dns, sizeof dns) == 1, "sendto: errno %d", errno);
  struct sockaddr_in from, sender;
  len = sizeof from;
  CHECK(recvfrom(u, &b, 1, 0, (struct sockaddr *)&from, &len) == 1 && b == 'y', "recvfrom");
  len = sizeof sender;
  CHECK(getsockname(v, (struct sockaddr *)&sender, &len) == 0 && same(&from, &sender),
        "recvfrom gave %s, the sender is %s", text(&from), text(&sender));
  close(u);
  close(v);
  printf("udp: ok\n");

  CHECK(connect_error(&free_vip) == EHOSTUNREACH, "connect to %s", text(&free_vip));
  struct sockaddr_in closed = addr(argv[1], 81);
  CHECK(connect_error(&closed) == ECONNREFUSED, "connect to %s", text(&closed));
  struct sockaddr_in other = addr(argv[4], 80);
  CHECK(connect_error(&other) == ENETUNREACH, "connect to %s", text(&other));
  printf("errors: ok\n");

  close(s);
  s = listener(&web);
  CHECK(s >= 0, "bind %s again after close: errno %d", text(&web), errno);
  struct sockaddr_in lo = addr("127.0.0.1", 0);
  int l = listener(&lo);
  len = sizeof got;
  CHECK(l >= 0 && getsockname(l, (struct sockaddr *)&got, &len) == 0 &&
            got.sin_addr.s_addr == lo.sin_addr.s_addr,
        "a loopback socket is %s", text(&got));
  printf("PASS\n");
  return 0;
}
