/* Socket pairs within one process, with unread bytes on both ends when the snapshot lands:
 *  - a stream pair, one end non-blocking, the other close-on-exec and dup'd to descriptor 40;
 *  - a seqpacket pair and a datagram pair, whose messages keep their boundaries (one datagram
 *    is empty);
 *  - a stream pair one end of which has shut down writing;
 *  - a stream pair whose other end is closed.
 * Says "ready", waits for DIR/go, then checks that each end reads exactly what was waiting,
 * with its flags, and that the pairs carry on. Prints "PASS".
 *
 *   socketpair_self DIR */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "check.h"
#include "io_checks.h"
#include "wait_go.h"

static void pair(int type, int sv[2]) {
  CHECK(socketpair(AF_UNIX, type, 0, sv) == 0, "socketpair(%d): errno %d", type, errno);
}

static void put(int fd, const char *text) {
  size_t n = strlen(text);
  CHECK(send(fd, text, n, 0) == (ssize_t)n, "send %s: errno %d", text, errno);
}

/* The next message (or, on a stream, every byte waiting) is exactly `want`. */
static void expect(int fd, const char *want, const char *what) {
  char buf[256];
  ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
  CHECK(n == (ssize_t)strlen(want) && !memcmp(buf, want, n),
        "%s: read %zd bytes (%.*s), expected %s", what, n, n > 0 ? (int)n : 0, buf, want);
}


static void expect_eof(int fd, const char *what) {
  char buf[16];
  ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
  CHECK(n == 0, "%s: read gave %zd (errno %d), expected end of file", what, n, errno);
}

static ino_t inode(int fd) {
  struct stat st;
  CHECK(fstat(fd, &st) == 0, "fstat %d: errno %d", fd, errno);
  return st.st_ino;
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: socketpair_self DIR");
  signal(SIGPIPE, SIG_IGN);
  int s[2], q[2], g[2], h[2], c[2];
  pair(SOCK_STREAM, s);
  pair(SOCK_SEQPACKET, q);
  pair(SOCK_DGRAM, g);
  pair(SOCK_STREAM, h);
  pair(SOCK_STREAM, c);

  CHECK(fcntl(s[0], F_SETFL, O_NONBLOCK) == 0, "O_NONBLOCK");
  CHECK(fcntl(s[1], F_SETFD, FD_CLOEXEC) == 0, "FD_CLOEXEC");
  CHECK(dup2(s[1], 40) == 40, "dup2");
  put(s[0], "to-one");
  put(s[0], ", again");
  put(s[1], "to-zero!");

  put(q[0], "a");
  put(q[0], "bb");
  put(q[0], "ccc");
  put(q[1], "dddd");

  put(g[0], "x1");
  put(g[0], "");
  put(g[0], "x333");
  put(g[1], "y");

  put(h[0], "last words");
  CHECK(shutdown(h[0], SHUT_WR) == 0, "shutdown");
  put(h[1], "reply");

  put(c[0], "bye");
  close(c[0]);

  say_ready();
  wait_go(argv[1]);

  CHECK(fcntl(s[0], F_GETFL) & O_NONBLOCK, "s[0] lost O_NONBLOCK");
  CHECK(!(fcntl(s[1], F_GETFL) & O_NONBLOCK), "s[1] became non-blocking");
  CHECK(fcntl(s[1], F_GETFD) == FD_CLOEXEC, "s[1] lost FD_CLOEXEC");
  CHECK(fcntl(40, F_GETFD) == 0, "descriptor 40 became close-on-exec");
  CHECK(inode(40) == inode(s[1]), "descriptor 40 is no longer a dup of s[1]");
  CHECK(inode(s[0]) != inode(s[1]), "both ends are one socket");
  int type = 0;
  socklen_t len = sizeof type;
  CHECK(getsockopt(q[0], SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_SEQPACKET,
        "q[0] is of type %d", type);

  expect(s[1], "to-one, again", "stream end 1");
  expect_nothing(40, "stream end 1's dup");
  expect(s[0], "to-zero!", "stream end 0");
  expect_nothing(s[0], "stream end 0");
  put(40, "more");
  expect(s[0], "more", "stream end 0 after the restore");

  expect(q[1], "a", "seqpacket 1st");
  expect(q[1], "bb", "seqpacket 2nd");
  expect(q[1], "ccc", "seqpacket 3rd");
  expect_nothing(q[1], "seqpacket end 1");
  expect(q[0], "dddd", "seqpacket end 0");
  expect_nothing(q[0], "seqpacket end 0");
  put(q[0], "eeeee");
  expect(q[1], "eeeee", "seqpacket after the restore");

  expect(g[1], "x1", "datagram 1st");
  expect(g[1], "", "datagram 2nd (empty)");
  expect(g[1], "x333", "datagram 3rd");
  expect_nothing(g[1], "datagram end 1");
  expect(g[0], "y", "datagram end 0");
  put(g[1], "z");
  expect(g[0], "z", "datagram after the restore");

  expect(h[1], "last words", "half-closed stream");
  expect_eof(h[1], "half-closed stream");
  expect(h[0], "reply", "half-closed stream, other way");
  CHECK(send(h[0], "x", 1, 0) < 0 && errno == EPIPE, "sending on a shut end: errno %d", errno);
  put(h[1], "still open");
  expect(h[0], "still open", "half-closed stream, other way, after the restore");

  expect(c[1], "bye", "stream whose peer closed");
  expect_eof(c[1], "stream whose peer closed");
  CHECK(send(c[1], "x", 1, 0) < 0 && errno == EPIPE, "sending to a closed peer: errno %d", errno);

  printf("PASS\n");
  return 0;
}
