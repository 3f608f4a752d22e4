/* A Unix datagram server bound to DIR/dgram.sock (mode 0600) with two datagrams it has not
 * read yet at the snapshot, and two clients connected to it (one in this process, one in a
 * child): after the restore it reads the two, in order and whole; the connected clients are
 * connected to it again; a new client's datagram arrives too. With OUTSIDE-SERVER-PATH it is
 * instead a client of that server (dgram_sink, outside the application). */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "check.h"
#include "wait_go.h"

static void expect(int s, const char *want) {
  char buf[64] = {0};
  ssize_t n = recv(s, buf, sizeof buf - 1, 0);
  CHECK(n == (ssize_t)strlen(want) && !strcmp(buf, want), "received '%s', not '%s'", buf, want);
}

/* A client of a server outside the application: connected to it again after the restore. */
static int client_of(const char *dir, const char *path) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
  int c = socket(AF_UNIX, SOCK_DGRAM, 0);
  CHECK(connect(c, (struct sockaddr *)&addr, sizeof addr) == 0, "connect: errno %d", errno);
  say_ready();
  wait_go(dir);
  CHECK(send(c, "after restore", 13, 0) == 13, "send: errno %d", errno);
  printf("PASS\n");
  return 0;
}

int main(int argc, char **argv) {
  CHECK(argc == 2 || argc == 3, "usage: unix_dgram_server DIR [OUTSIDE-SERVER-PATH]");
  if (argc == 3) return client_of(argv[1], argv[2]);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s/dgram.sock", argv[1]);
  int server = socket(AF_UNIX, SOCK_DGRAM, 0);
  CHECK(server >= 0 && bind(server, (struct sockaddr *)&addr, sizeof addr) == 0, "bind: %d", errno);
  CHECK(chmod(addr.sun_path, 0600) == 0, "chmod");
  int client = socket(AF_UNIX, SOCK_DGRAM, 0);
  CHECK(client >= 0, "client");
  const char *queued[] = {"first datagram", "second, longer datagram"};
  for (int i = 0; i < 2; i++)
    CHECK(sendto(client, queued[i], strlen(queued[i]), 0, (struct sockaddr *)&addr, sizeof addr) ==
              (ssize_t)strlen(queued[i]),
          "send");
  int connected = socket(AF_UNIX, SOCK_DGRAM, 0);
  CHECK(connect(connected, (struct sockaddr *)&addr, sizeof addr) == 0, "connect");
  pid_t child = fork();
  if (child == 0) {
    wait_go(argv[1]);
    CHECK(send(connected, "from the child", 14, 0) == 14, "the child's send: errno %d", errno);
    return 0;
  }
  say_ready();
  wait_go(argv[1]);

  struct stat st;
  CHECK(stat(addr.sun_path, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0600,
        "the socket file is back with mode 0600");
  struct sockaddr_un name;
  socklen_t len = sizeof name;
  CHECK(getsockname(server, (struct sockaddr *)&name, &len) == 0 &&
            !strcmp(name.sun_path, addr.sun_path),
        "bound to %s", name.sun_path);
  struct timeval patience = {5, 0}; /* a datagram that is not there fails the test, not hangs it */
  CHECK(setsockopt(server, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof patience) == 0, "timeout");
  expect(server, queued[0]);
  expect(server, queued[1]);
  expect(server, "from the child");
  int status;
  CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && !WEXITSTATUS(status), "child");
  CHECK(send(connected, "connected", 9, 0) == 9, "send on the connected client: errno %d", errno);
  expect(server, "connected");
  len = sizeof name;
  CHECK(getpeername(connected, (struct sockaddr *)&name, &len) == 0 &&
            !strcmp(name.sun_path, addr.sun_path),
        "the client's peer is %s", name.sun_path);
  int fresh = socket(AF_UNIX, SOCK_DGRAM, 0);
  CHECK(sendto(fresh, "after", 5, 0, (struct sockaddr *)&addr, sizeof addr) == 5, "send after");
  expect(server, "after");
  printf("PASS\n");
  return 0;
}
