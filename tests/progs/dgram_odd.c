/* Datagram sockets in unusual states, each with a datagram waiting when the snapshot lands:
 *  self:     a Unix datagram socket bound to a path and connected to itself, another on an
 *            abstract name connected to itself, and a UDP socket connected to itself;
 *  unlinked: a bound Unix datagram socket whose path was unlinked, with a client connected to
 *            it (the path stays gone after the restore).
 * After the restore each still receives what was waiting and talks to itself (or its client)
 * again.
 *
 *   dgram_odd DIR self|unlinked */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "check.h"
#include "io_checks.h"
#include "wait_go.h"

static void expect(int fd, const char *want, const char *what) {
  char buf[64];
  ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
  CHECK(n == (ssize_t)strlen(want) && !memcmp(buf, want, n), "%s: got %zd bytes (errno %d)",
        what, n, errno);
}

static void put(int fd, const char *text) {
  CHECK(send(fd, text, strlen(text), 0) == (ssize_t)strlen(text), "send %s: errno %d", text, errno);
}

static int unix_dgram(const char *path, int abstract, socklen_t *len, struct sockaddr_un *a) {
  int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  strcpy(a->sun_path + abstract, path);
  *len = offsetof(struct sockaddr_un, sun_path) + abstract + strlen(path) + !abstract;
  CHECK(fd >= 0 && bind(fd, (struct sockaddr *)a, *len) == 0, "bind %s: errno %d", path, errno);
  return fd;
}

/* Its own name is its peer's. */
static void connected_to_itself(int fd, const char *what) {
  struct sockaddr_storage mine, peer;
  socklen_t ml = sizeof mine, pl = sizeof peer;
  CHECK(getsockname(fd, (struct sockaddr *)&mine, &ml) == 0, "%s: getsockname", what);
  CHECK(getpeername(fd, (struct sockaddr *)&peer, &pl) == 0, "%s: getpeername: errno %d", what,
        errno);
  CHECK(ml == pl && !memcmp(&mine, &peer, ml), "%s: not connected to itself", what);
}

/* A datagram socket bound to DIR/name, and a socket connected to it (it, or a new one). */
static int bound_and_connected(const char *dir, const char *name, int *client) {
  char path[200];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  struct sockaddr_un a;
  socklen_t len;
  int fd = unix_dgram(path, 0, &len, &a);
  int c = *client < 0 ? socket(AF_UNIX, SOCK_DGRAM, 0) : fd;
  CHECK(connect(c, (struct sockaddr *)&a, len) == 0, "connect to %s: errno %d", name, errno);
  *client = c;
  return fd;
}

static int self_mode(const char *dir) {
  int u = 0;
  bound_and_connected(dir, "self.sock", &u);
  struct sockaddr_un a;
  socklen_t len;
  char abs_name[128]; /* unique per run: every application's first process has one vpid */
  const char *run = strrchr(dir, '/');
  snprintf(abs_name, sizeof abs_name, "amber-self-%s", run ? run + 1 : dir);
  int b = unix_dgram(abs_name, 1, &len, &a);
  CHECK(connect(b, (struct sockaddr *)&a, len) == 0, "connect abstract: errno %d", errno);
  int v = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t il = sizeof in;
  CHECK(bind(v, (struct sockaddr *)&in, sizeof in) == 0 &&
            getsockname(v, (struct sockaddr *)&in, &il) == 0 &&
            connect(v, (struct sockaddr *)&in, il) == 0,
        "udp: errno %d", errno);
  put(u, "unix-self");
  put(b, "abstract-self");
  say_ready();
  wait_go(dir);
  expect(u, "unix-self", "the path socket's waiting datagram");
  expect(b, "abstract-self", "the abstract socket's waiting datagram");
  connected_to_itself(u, "the path socket");
  connected_to_itself(b, "the abstract socket");
  connected_to_itself(v, "the UDP socket");
  put(u, "again"), expect(u, "again", "the path socket, after");
  put(b, "again"), expect(b, "again", "the abstract socket, after");
  put(v, "again");
  char buf[16];
  CHECK(recv(v, buf, sizeof buf, 0) == 5, "the UDP socket, after: errno %d", errno);
  expect_nothing(u, "the path socket");
  return 0;
}

static int unlinked_mode(const char *dir) {
  char path[200];
  snprintf(path, sizeof path, "%s/gone.sock", dir);
  int c = -1;
  int d = bound_and_connected(dir, "gone.sock", &c);
  CHECK(unlink(path) == 0, "unlink");
  put(c, "before");
  say_ready();
  wait_go(dir);
  expect(d, "before", "the waiting datagram");
  put(c, "after");
  expect(d, "after", "the client's datagram after the restore");
  CHECK(access(path, F_OK) != 0, "the unlinked path is back");
  struct sockaddr_un name;
  socklen_t nl = sizeof name;
  CHECK(getsockname(d, (struct sockaddr *)&name, &nl) == 0 && !strcmp(name.sun_path, path),
        "the socket's name changed");
  expect_nothing(d, "the socket");
  return 0;
}

int main(int argc, char **argv) {
  CHECK(argc == 3, "usage: dgram_odd DIR self|unlinked");
  int r = !strcmp(argv[2], "self") ? self_mode(argv[1]) : unlinked_mode(argv[1]);
  if (r == 0) printf("PASS\n");
  return r;
}
