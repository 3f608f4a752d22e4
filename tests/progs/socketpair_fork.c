/* A parent and a child joined by socket pairs, with bytes in flight both ways when the
 * snapshot lands:
 *  - a stream the parent fills with numbers the child stopped reading (the parent is blocked
 *    sending, and sends on as soon as it is restored), and a greeting the other way;
 *  - a seqpacket pair (the child's end non-blocking and dup'd to descriptor 50) and a datagram
 *    pair, with messages each way;
 *  - a stream pair both processes hold both ends of (inherited across fork).
 * The child says "ready" and waits for DIR/go; then each side reads exactly what was waiting,
 * in order, before anything sent after the restore, and the conversation goes on. The parent
 * prints "PASS" once the child has checked its side.
 *
 *   socketpair_fork DIR */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "check.h"
#include "io_checks.h"
#include "wait_go.h"

#define TOTAL 200000
#define EARLY 1000

static void put(int fd, const char *text) {
  size_t n = strlen(text);
  CHECK(send(fd, text, n, 0) == (ssize_t)n, "send %s: errno %d", text, errno);
}

/* The next message, or on a stream the next strlen(want) bytes, is exactly `want`. */
static void expect(int fd, const char *want, int flags, const char *what) {
  char buf[256];
  int type = 0;
  socklen_t len = sizeof type;
  CHECK(getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0, "SO_TYPE: errno %d", errno);
  ssize_t n = recv(fd, buf, type == SOCK_STREAM ? strlen(want) : sizeof buf, flags);
  CHECK(n == (ssize_t)strlen(want) && !memcmp(buf, want, n),
        "%s: read %zd bytes (%.*s), expected %s", what, n, n > 0 ? (int)n : 0, buf, want);
}



static ino_t inode(int fd) {
  struct stat st;
  CHECK(fstat(fd, &st) == 0, "fstat %d: errno %d", fd, errno);
  return st.st_ino;
}

static int child(const char *dir, int s, int q, int g, const int d[2]) {
  CHECK(fcntl(q, F_SETFL, O_NONBLOCK) == 0, "O_NONBLOCK");
  CHECK(dup2(q, 50) == 50, "dup2");
  put(s, "child-hello");
  put(q, "child-q-1");
  put(q, "child-q-22");
  put(g, "child-g-1");
  put(g, "");
  put(g, "child-g-333");
  put(d[1], "child-d");
  uint32_t expect_n = 0, n;
  for (; expect_n < EARLY; expect_n++)
    CHECK(read_number(s, &n) && n == expect_n, "early number %u, expected %u", n, expect_n);
  say_ready();
  wait_go(dir);

  CHECK(fcntl(q, F_GETFL) & O_NONBLOCK, "the seqpacket end lost O_NONBLOCK");
  CHECK(!(fcntl(g, F_GETFL) & O_NONBLOCK), "the datagram end became non-blocking");
  CHECK(inode(50) == inode(q), "descriptor 50 is no longer a dup of the seqpacket end");
  expect(50, "parent-q-1", 0, "seqpacket 1st");
  expect(q, "parent-q-22", 0, "seqpacket 2nd");
  expect_nothing(q, "seqpacket");
  expect(g, "parent-g-1", 0, "datagram 1st");
  expect(g, "", 0, "datagram 2nd (empty)");
  expect(g, "parent-g-333", 0, "datagram 3rd");
  expect_nothing(g, "datagram");
  expect(d[1], "parent-d", MSG_DONTWAIT, "shared pair");
  expect_nothing(d[1], "shared pair");
  expect(d[0], "child-d", MSG_PEEK | MSG_DONTWAIT, "shared pair, other end"); /* the parent's */

  for (; expect_n < TOTAL; expect_n++) {
    CHECK(read_number(s, &n), "the stream ended after %u numbers", expect_n);
    CHECK(n == expect_n, "number %u, expected %u", n, expect_n);
  }
  put(q, "child-q-after");
  put(d[1], "child-d-after");
  struct pollfd p = {q, POLLIN, 0}; /* stay until the parent has checked its side */
  CHECK(poll(&p, 1, 20000) == 1, "no bye from the parent");
  expect(q, "parent-bye", 0, "the parent's bye");
  return 0;
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: socketpair_fork DIR");
  signal(SIGPIPE, SIG_IGN);
  int s[2], q[2], g[2], d[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0, "socketpair: errno %d", errno);
  CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, q) == 0, "socketpair: errno %d", errno);
  CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, g) == 0, "socketpair: errno %d", errno);
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, d) == 0, "socketpair: errno %d", errno);
  fflush(stdout);
  pid_t pid = fork();
  CHECK(pid >= 0, "fork: errno %d", errno);
  if (pid == 0) {
    close(s[0]);
    close(q[0]);
    close(g[0]);
    return child(argv[1], s[1], q[1], g[1], d);
  }
  close(s[1]);
  close(q[1]);
  close(g[1]);
  put(q[0], "parent-q-1");
  put(q[0], "parent-q-22");
  put(g[0], "parent-g-1");
  put(g[0], "");
  put(g[0], "parent-g-333");
  put(d[0], "parent-d");
  for (uint32_t i = 0; i < TOTAL; i++)
    CHECK(write(s[0], &i, sizeof i) == sizeof i, "write: errno %d", errno);

  expect(s[0], "child-hello", MSG_DONTWAIT, "stream");
  expect_nothing(s[0], "stream");
  expect(q[0], "child-q-1", 0, "seqpacket 1st");
  expect(q[0], "child-q-22", 0, "seqpacket 2nd");
  expect(q[0], "child-q-after", 0, "seqpacket after the restore");
  expect(g[0], "child-g-1", 0, "datagram 1st");
  expect(g[0], "", 0, "datagram 2nd (empty)");
  expect(g[0], "child-g-333", 0, "datagram 3rd");
  expect_nothing(g[0], "datagram");
  expect(d[0], "child-d", MSG_DONTWAIT, "shared pair");
  put(q[0], "parent-bye");
  int status;
  CHECK(waitpid(pid, &status, 0) == pid, "waitpid: errno %d", errno);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child failed (status %d)", status);
  expect(d[0], "child-d-after", MSG_DONTWAIT, "shared pair after the restore");
  printf("PASS\n");
  return 0;
}
