/* Connections waiting in a Unix listener's accept queue whose clients are in the application:
 * a parent listens (stream and seqpacket, at DIR/stream.sock and DIR/seqpacket.sock) and
 * accepts nothing before DIR/go; its child connects three clients to each. After the restore
 * the parent accepts them all, in the order they connected (it tells each its number, and each
 * client checks it is its own), and they talk both ways; nothing more waits.
 *
 *   backlog_kept DIR   prints "ready", after DIR/go "child: ok" and "PASS" */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "wait_go.h"

#define CLIENTS 3
static const int types[2] = {SOCK_STREAM, SOCK_SEQPACKET};
static const char *names[2] = {"stream", "seqpacket"};

static struct sockaddr_un address(const char *dir, int k) {
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  snprintf(a.sun_path, sizeof a.sun_path, "%s/%s.sock", dir, names[k]);
  return a;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  CHECK(argc == 2, "usage: backlog_kept DIR");
  int listeners[2], done[2];
  for (int k = 0; k < 2; k++) {
    struct sockaddr_un a = address(argv[1], k);
    listeners[k] = socket(AF_UNIX, types[k], 0);
    CHECK(listeners[k] >= 0 && bind(listeners[k], (struct sockaddr *)&a, sizeof a) == 0 &&
              listen(listeners[k], 8) == 0,
          "listen: errno %d", errno);
  }
  CHECK(pipe(done) == 0, "pipe: errno %d", errno);
  pid_t child = fork();
  CHECK(child >= 0, "fork: errno %d", errno);
  if (child == 0) {
    close(listeners[0]), close(listeners[1]);
    int clients[2][CLIENTS];
    for (int k = 0; k < 2; k++)
      for (int i = 0; i < CLIENTS; i++) {
        struct sockaddr_un a = address(argv[1], k);
        clients[k][i] = socket(AF_UNIX, types[k], 0);
        CHECK(clients[k][i] >= 0 && connect(clients[k][i], (struct sockaddr *)&a, sizeof a) == 0,
              "connect: errno %d", errno);
      }
    CHECK(write(done[1], "c", 1) == 1, "write: errno %d", errno);
    wait_go(argv[1]);
    for (int k = 0; k < 2; k++)
      for (int i = 0; i < CLIENTS; i++) {
        char n = 0;
        CHECK(read(clients[k][i], &n, 1) == 1, "%s client %d: read: errno %d", names[k], i, errno);
        CHECK(n == '0' + i, "%s client %d was accepted as number %c", names[k], i, n);
        CHECK(write(clients[k][i], "ok", 2) == 2, "%s client %d: write: errno %d", names[k], i,
              errno);
      }
    printf("child: ok\n");
    return 0;
  }
  char c;
  CHECK(read(done[0], &c, 1) == 1, "the child did not connect");
  say_ready();
  wait_go(argv[1]);
  for (int k = 0; k < 2; k++) {
    struct pollfd p = {listeners[k], POLLIN, 0};
    CHECK(poll(&p, 1, 20000) == 1, "%s: no connection waiting after the restore", names[k]);
    int accepted[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
      accepted[i] = accept4(listeners[k], NULL, NULL, SOCK_NONBLOCK);
      CHECK(accepted[i] >= 0, "%s: accept %d: errno %d", names[k], i, errno);
      char n = (char)('0' + i);
      CHECK(write(accepted[i], &n, 1) == 1, "%s: write: errno %d", names[k], errno);
    }
    fcntl(listeners[k], F_SETFL, O_NONBLOCK);
    CHECK(accept(listeners[k], NULL, NULL) < 0 && errno == EAGAIN,
          "%s: more connections waiting than the child made", names[k]);
    for (int i = 0; i < CLIENTS; i++) {
      char buf[4] = {0};
      struct pollfd q = {accepted[i], POLLIN, 0};
      CHECK(poll(&q, 1, 20000) == 1 && read(accepted[i], buf, sizeof buf) == 2 &&
                !strcmp(buf, "ok"),
            "%s: connection %d answered '%s'", names[k], i, buf);
    }
  }
  int status;
  CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "the child failed (status %#x)", status);
  printf("PASS\n");
  return 0;
}
