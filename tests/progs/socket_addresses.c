/* Sockets that come back at their addresses: a Unix listener bound to DIR/sock (mode 0640)
 * and a dup of it, an abstract Unix listener, a TCP listener on [::1] (IPv6-only, when the
 * machine has IPv6) and one on 127.0.0.1, a bound UDP socket, a UDP socket connected to it,
 * and an unbound TCP socket. Says "ready", waits for DIR/go, then checks each one's address
 * and options and uses it: connects to every listener and accepts, sends a datagram through
 * the connected UDP socket, connects the unbound TCP socket. Prints "PASS".
 *
 *   socket_addresses DIR */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "check.h"
#include "wait_go.h"

static socklen_t unix_addr(struct sockaddr_un *a, const char *path, int abstract) {
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  size_t n = strlen(path);
  memcpy(a->sun_path + abstract, path, n);
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + abstract + (abstract ? n : n + 1));
}

static int listen_on(int family, const void *addr, socklen_t len, int backlog) {
  int s = socket(family, SOCK_STREAM, 0);
  CHECK(s >= 0, "socket: errno %d", errno);
  if (family == AF_INET6) {
    int one = 1;
    CHECK(setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) == 0, "IPV6_V6ONLY");
  }
  if (bind(s, addr, len) != 0) {
    close(s);
    return -1;
  }
  CHECK(listen(s, backlog) == 0, "listen: errno %d", errno);
  return s;
}

/* Connects a new socket to `addr`, accepts it on `listener`, and sends a byte across. */
static void round_trip(int listener, int family, const void *addr, socklen_t len, const char *what) {
  int c = socket(family, SOCK_STREAM, 0);
  CHECK(c >= 0, "%s: socket: errno %d", what, errno);
  CHECK(connect(c, addr, len) == 0, "%s: connect: errno %d", what, errno);
  int a = accept(listener, NULL, NULL);
  CHECK(a >= 0, "%s: accept: errno %d", what, errno);
  char b = 0;
  CHECK(write(c, "x", 1) == 1 && read(a, &b, 1) == 1 && b == 'x', "%s: no byte across", what);
  close(a);
  close(c);
  printf("%s: ok\n", what);
}

static void same_name(int s, const void *addr, socklen_t len, const char *what) {
  char got[128];
  socklen_t got_len = sizeof got;
  CHECK(getsockname(s, (struct sockaddr *)got, &got_len) == 0, "%s: getsockname: errno %d", what,
        errno);
  CHECK(got_len == len && !memcmp(got, addr, len), "%s: bound to another address", what);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  CHECK(argc == 2, "usage: socket_addresses DIR");
  /* The abstract name is DIR's too: pids are virtual, the same in every application. */
  char path[100], abstract[100];
  snprintf(path, sizeof path, "%s/sock", argv[1]);
  snprintf(abstract, sizeof abstract, "%s/abstract", argv[1]);

  struct sockaddr_un un, ab;
  socklen_t un_len = unix_addr(&un, path, 0), ab_len = unix_addr(&ab, abstract, 1);
  mode_t old = umask(0027);
  int unix_listener = listen_on(AF_UNIX, &un, un_len, 5);
  umask(old);
  CHECK(unix_listener >= 0, "bind %s: errno %d", path, errno);
  int unix_dup = dup(unix_listener);
  int abstract_listener = listen_on(AF_UNIX, &ab, ab_len, 5);
  CHECK(abstract_listener >= 0, "bind abstract: errno %d", errno);

  struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  int v6_listener = listen_on(AF_INET6, &v6, sizeof v6, 5);
  socklen_t len = sizeof v6;
  if (v6_listener >= 0) getsockname(v6_listener, (struct sockaddr *)&v6, &len);
  else printf("no IPv6 here: skipping the IPv6 listener\n");

  struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int v4_listener = listen_on(AF_INET, &v4, sizeof v4, 5);
  CHECK(v4_listener >= 0, "bind 127.0.0.1: errno %d", errno);
  len = sizeof v4;
  getsockname(v4_listener, (struct sockaddr *)&v4, &len);

  int udp = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in u = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  CHECK(bind(udp, (struct sockaddr *)&u, sizeof u) == 0, "bind udp: errno %d", errno);
  len = sizeof u;
  getsockname(udp, (struct sockaddr *)&u, &len);
  int udp_client = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  CHECK(connect(udp_client, (struct sockaddr *)&u, sizeof u) == 0, "connect udp: errno %d", errno);
  struct sockaddr_in uc;
  len = sizeof uc;
  getsockname(udp_client, (struct sockaddr *)&uc, &len);

  int unbound = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(unbound >= 0, "socket: errno %d", errno);

  say_ready();
  wait_go(argv[1]);

  same_name(unix_listener, &un, un_len, "unix listener");
  same_name(unix_dup, &un, un_len, "unix listener's dup");
  same_name(abstract_listener, &ab, ab_len, "abstract listener");
  same_name(v4_listener, &v4, sizeof v4, "IPv4 listener");
  same_name(udp, &u, sizeof u, "bound UDP socket");
  same_name(udp_client, &uc, sizeof uc, "connected UDP socket");
  struct stat st;
  CHECK(stat(path, &st) == 0 && S_ISSOCK(st.st_mode), "%s is not a socket", path);
  CHECK((st.st_mode & 0777) == 0750, "%s has mode %o, expected 750", path, st.st_mode & 0777);
  CHECK(fcntl(udp_client, F_GETFL) & O_NONBLOCK, "the UDP client lost O_NONBLOCK");

  round_trip(unix_listener, AF_UNIX, &un, un_len, "unix listener");
  round_trip(unix_dup, AF_UNIX, &un, un_len, "unix listener's dup");
  round_trip(abstract_listener, AF_UNIX, &ab, ab_len, "abstract listener");
  round_trip(v4_listener, AF_INET, &v4, sizeof v4, "IPv4 listener");
  if (v6_listener >= 0) {
    same_name(v6_listener, &v6, sizeof v6, "IPv6 listener");
    int v = 0;
    len = sizeof v;
    CHECK(getsockopt(v6_listener, IPPROTO_IPV6, IPV6_V6ONLY, &v, &len) == 0 && v,
          "the IPv6 listener lost IPV6_V6ONLY");
    round_trip(v6_listener, AF_INET6, &v6, sizeof v6, "IPv6 listener");
  }

  CHECK(send(udp_client, "dgram", 5, 0) == 5, "send udp: errno %d", errno);
  char buf[16];
  struct sockaddr_in from;
  len = sizeof from;
  ssize_t n = recvfrom(udp, buf, sizeof buf, 0, (struct sockaddr *)&from, &len);
  CHECK(n == 5 && !memcmp(buf, "dgram", 5), "recvfrom udp: %zd, errno %d", n, errno);
  CHECK(from.sin_port == uc.sin_port, "the datagram came from another port");
  printf("udp: ok\n");

  CHECK(connect(unbound, (struct sockaddr *)&v4, sizeof v4) == 0, "unbound: connect: errno %d",
        errno);
  int a = accept(v4_listener, NULL, NULL);
  CHECK(a >= 0, "accept: errno %d", errno);
  printf("unbound tcp: ok\n");
  printf("PASS\n");
  return 0;
}
