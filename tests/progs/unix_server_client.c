/* A Unix stream server and a client process of one application, connected through a listening
 * socket at DIR/sock, with unread bytes both ways when the snapshot lands (the server's end is
 * non-blocking). The server says "ready" once it has accepted the client and the client's
 * greeting waits unread; after DIR/go each side reads exactly the other's greeting, they
 * exchange a ping and a pong, and a new client process connects to the same listener. The
 * server prints "PASS" once both clients have checked their side.
 *
 *   unix_server_client DIR */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "check.h"
#include "wait_go.h"

static struct sockaddr_un addr;

static void put(int fd, const char *text) {
  size_t n = strlen(text);
  CHECK(send(fd, text, n, 0) == (ssize_t)n, "send %s: errno %d", text, errno);
}

/* Waits for the bytes of `want`, and checks they are exactly that. */
static void expect(int fd, const char *want, const char *what) {
  char buf[256];
  size_t len = strlen(want), got = 0;
  while (got < len) {
    struct pollfd p = {fd, POLLIN, 0};
    CHECK(poll(&p, 1, 10000) == 1, "%s: nothing to read after %zu bytes", what, got);
    ssize_t n = recv(fd, buf + got, len - got, MSG_DONTWAIT);
    CHECK(n > 0, "%s: read gave %zd (errno %d) after %zu bytes", what, n, errno, got);
    got += n;
  }
  CHECK(!memcmp(buf, want, len), "%s: read %.*s, expected %s", what, (int)len, buf, want);
}

static int connect_to_server(void) {
  int c = socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK(c >= 0, "socket: errno %d", errno);
  CHECK(connect(c, (struct sockaddr *)&addr, sizeof addr) == 0, "connect: errno %d", errno);
  return c;
}

static int first_client(const char *dir) {
  int c = connect_to_server();
  put(c, "hello from client");
  wait_go(dir);
  expect(c, "hello from server", "the client's greeting");
  put(c, "ping");
  expect(c, "pong", "the pong");
  return 0;
}

static int later_client(void) {
  int c = connect_to_server();
  put(c, "new");
  expect(c, "welcome", "the welcome");
  return 0;
}

static void reap(pid_t pid, const char *what) {
  int status;
  CHECK(waitpid(pid, &status, 0) == pid, "waitpid: errno %d", errno);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s failed (status %d)", what, status);
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: unix_server_client DIR");
  signal(SIGPIPE, SIG_IGN);
  addr.sun_family = AF_UNIX;
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s/sock", argv[1]);
  int lis = socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK(lis >= 0, "socket: errno %d", errno);
  CHECK(bind(lis, (struct sockaddr *)&addr, sizeof addr) == 0, "bind: errno %d", errno);
  CHECK(listen(lis, 8) == 0, "listen: errno %d", errno);
  fflush(stdout);
  pid_t client = fork();
  CHECK(client >= 0, "fork: errno %d", errno);
  if (client == 0) {
    close(lis);
    return first_client(argv[1]);
  }
  int conn = accept4(lis, NULL, NULL, SOCK_NONBLOCK);
  CHECK(conn >= 0, "accept: errno %d", errno);
  put(conn, "hello from server");
  for (int waiting = 0; waiting < (int)strlen("hello from client");) {
    struct pollfd p = {conn, POLLIN, 0};
    poll(&p, 1, 100);
    CHECK(ioctl(conn, FIONREAD, &waiting) == 0, "FIONREAD: errno %d", errno);
  }
  say_ready();
  wait_go(argv[1]);

  CHECK(fcntl(conn, F_GETFL) & O_NONBLOCK, "the accepted socket lost O_NONBLOCK");
  expect(conn, "hello from client", "the server's greeting");
  expect(conn, "ping", "the ping");
  put(conn, "pong");
  reap(client, "the first client");

  fflush(stdout);
  pid_t later = fork();
  CHECK(later >= 0, "fork: errno %d", errno);
  if (later == 0) return later_client();
  int again = accept(lis, NULL, NULL);
  CHECK(again >= 0, "accept after the restore: errno %d", errno);
  expect(again, "new", "the new client's hello");
  put(again, "welcome");
  reap(later, "the later client");
  printf("PASS\n");
  return 0;
}
