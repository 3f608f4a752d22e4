/* An epoll-based TCP echo server on 127.0.0.1, port 0. It prints "port N" and "ready", then
 * serves forever: every connection's bytes are echoed back; a connection that ends prints
 * "closed <fd> eof" or "closed <fd> reset"; a line "quit" is answered "bye", and the server
 * checks its own descriptors, prints "PASS" and exits 0.
 *
 * Under test: a connection opened before the snapshot comes back reset (it prints "closed"),
 * and after the restore the same listening socket, with the same epoll registration and data,
 * serves new connections. With "plain" the listener does not set SO_REUSEADDR, so the
 * connections the original left behind (FIN_WAIT2, TIME_WAIT on its port) stand in the way of
 * binding it again unless Amber clears the way.
 *
 *   tcp_echo_epoll [plain] */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"

#define TAG (0xA11CEULL << 32)
#define BACKLOG 37

static int listener, ep;
static uint16_t port;
static int reuseaddr = 1;

static void check_state(void) {
  int v = 0;
  socklen_t len = sizeof v;
  CHECK(getsockopt(listener, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == 0 && v,
        "the listening socket is not listening");
  len = sizeof v;
  CHECK(getsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &v, &len) == 0 && !v == !reuseaddr,
        "SO_REUSEADDR is %d, expected %d", v, reuseaddr);
  CHECK(fcntl(listener, F_GETFL) & O_NONBLOCK, "the listener lost O_NONBLOCK");
  CHECK(fcntl(listener, F_GETFD) & FD_CLOEXEC, "the listener lost FD_CLOEXEC");
  CHECK(fcntl(ep, F_GETFD) & FD_CLOEXEC, "the epoll descriptor lost FD_CLOEXEC");
  struct sockaddr_in a;
  len = sizeof a;
  CHECK(getsockname(listener, (struct sockaddr *)&a, &len) == 0, "getsockname: errno %d", errno);
  CHECK(a.sin_family == AF_INET && ntohs(a.sin_port) == port &&
            a.sin_addr.s_addr == htonl(INADDR_LOOPBACK),
        "the listener is bound to port %d, expected %d", ntohs(a.sin_port), port);
  struct tcp_info ti;
  len = sizeof ti;
  CHECK(getsockopt(listener, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0, "TCP_INFO: errno %d", errno);
  CHECK(ti.tcpi_sacked == BACKLOG, "backlog %u, expected %d", ti.tcpi_sacked, BACKLOG);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1 && !strcmp(argv[1], "plain")) reuseaddr = 0;
  listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  CHECK(listener >= 0, "socket: errno %d", errno);
  CHECK(setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &reuseaddr, sizeof reuseaddr) == 0,
        "SO_REUSEADDR: errno %d", errno);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  CHECK(bind(listener, (struct sockaddr *)&a, sizeof a) == 0, "bind: errno %d", errno);
  CHECK(listen(listener, BACKLOG) == 0, "listen: errno %d", errno);
  socklen_t len = sizeof a;
  CHECK(getsockname(listener, (struct sockaddr *)&a, &len) == 0, "getsockname: errno %d", errno);
  port = ntohs(a.sin_port);
  ep = epoll_create1(EPOLL_CLOEXEC);
  CHECK(ep >= 0, "epoll_create1: errno %d", errno);
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG | (uint64_t)listener};
  CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev) == 0, "epoll_ctl: errno %d", errno);
  check_state();
  printf("port %d\nready\n", port);

  for (;;) {
    struct epoll_event evs[16];
    int n = epoll_wait(ep, evs, 16, -1);
    if (n < 0 && errno == EINTR) continue;
    CHECK(n > 0, "epoll_wait: errno %d", errno);
    for (int i = 0; i < n; i++) {
      CHECK((evs[i].data.u64 & ~0xffffffffULL) == TAG, "epoll data %llx lost its tag",
            (unsigned long long)evs[i].data.u64);
      int fd = (int)(evs[i].data.u64 & 0xffffffff);
      if (fd == listener) {
        int c;
        while ((c = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
          struct epoll_event cev = {.events = EPOLLIN | EPOLLRDHUP, .data.u64 = TAG | (uint64_t)c};
          CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev) == 0, "epoll_ctl: errno %d", errno);
          printf("accepted %d\n", c);
        }
        CHECK(errno == EAGAIN || errno == EWOULDBLOCK, "accept4: errno %d", errno);
        continue;
      }
      char buf[4096];
      ssize_t got = read(fd, buf, sizeof buf);
      if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (got <= 0) {
        printf("closed %d %s\n", fd, got == 0 ? "eof" : errno == ECONNRESET ? "reset" : "error");
        epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
        close(fd);
        continue;
      }
      if (got >= 4 && memmem(buf, got, "quit", 4)) {
        check_state();
        CHECK(write(fd, "bye\n", 4) == 4, "write: errno %d", errno);
        printf("PASS\n");
        return 0;
      }
      CHECK(write(fd, buf, got) == got, "write: errno %d", errno);
    }
  }
}
