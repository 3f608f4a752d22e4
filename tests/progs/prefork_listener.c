/* A pre-forking server (nginx, apache, gunicorn): the parent binds and listens on one TCP
 * socket, then forks workers that all accept on it; with "nobody" the workers drop to user
 * nobody first, as nginx's do (the parent stays root). After the restore the socket must still
 * be one socket: every process holds the same inode, it listens, and each worker accepts a
 * connection the parent makes to the port. A page of shared anonymous memory (nginx keeps its
 * accept mutex and counters so) stays one page: what a worker writes, the parent sees.
 *
 *   prefork_listener DIR [nobody]     prints "port N", then "ready" */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "check.h"
#include "wait_go.h"

#define WORKERS 2

static ino_t inode(int fd) {
  struct stat st;
  CHECK(fstat(fd, &st) == 0, "fstat %d: errno %d", fd, errno);
  return st.st_ino;
}

/* A worker: reports that it is set up, then (after the restore) accepts one connection and
 * answers it with the inode of its listening socket. */
static volatile int *served; /* a MAP_SHARED page: each worker's count */

static int worker(int w, int lfd, int report, int drop) {
  if (drop) {
    CHECK(setgid(65534) == 0 && setuid(65534) == 0, "setuid nobody: errno %d", errno);
    CHECK(getuid() == 65534, "still uid %d", (int)getuid());
  }
  served[w] = 1;
  CHECK(write(report, "w", 1) == 1, "report");
  int c = accept(lfd, NULL, NULL); /* blocked here when the snapshot lands */
  CHECK(c >= 0, "accept: errno %d", errno);
  int on = 0;
  socklen_t len = sizeof on;
  CHECK(getsockopt(lfd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on, "not listening");
  CHECK(!drop || getuid() == 65534, "the worker is uid %d after restore", (int)getuid());
  unsigned long ino = inode(lfd);
  served[w] = 2;
  CHECK(write(c, &ino, sizeof ino) == sizeof ino, "answer: errno %d", errno);
  close(c);
  return 0;
}

int main(int argc, char **argv) {
  CHECK(argc >= 2, "usage: prefork_listener DIR [nobody]");
  int drop = argc > 2 && !strcmp(argv[2], "nobody");
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof a;
  CHECK(lfd >= 0 && bind(lfd, (struct sockaddr *)&a, sizeof a) == 0 && listen(lfd, 16) == 0,
        "listen: errno %d", errno);
  CHECK(getsockname(lfd, (struct sockaddr *)&a, &alen) == 0, "getsockname");
  served = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(served != MAP_FAILED, "mmap");
  int report[2];
  CHECK(pipe(report) == 0, "pipe");
  pid_t kids[WORKERS];
  for (int w = 0; w < WORKERS; w++) {
    kids[w] = fork();
    CHECK(kids[w] >= 0, "fork");
    if (kids[w] == 0) {
      close(report[0]);
      return worker(w, lfd, report[1], drop);
    }
  }
  close(report[1]);
  char c;
  for (int w = 0; w < WORKERS; w++) CHECK(read(report[0], &c, 1) == 1, "worker %d report", w);
  printf("port %d\n", ntohs(a.sin_port));
  say_ready();
  wait_go(argv[1]);
  unsigned long mine = inode(lfd);
  for (int w = 0; w < WORKERS; w++) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(connect(s, (struct sockaddr *)&a, sizeof a) == 0, "connect %d: errno %d", w, errno);
    unsigned long theirs = 0;
    struct pollfd p = {s, POLLIN, 0};
    CHECK(poll(&p, 1, 10000) == 1, "no worker answers connection %d", w);
    CHECK(read(s, &theirs, sizeof theirs) == sizeof theirs, "read: errno %d", errno);
    CHECK(theirs == mine, "a worker listens on socket %lu, the parent on %lu", theirs, mine);
    close(s);
  }
  for (int w = 0; w < WORKERS; w++) {
    int status;
    CHECK(waitpid(kids[w], &status, 0) == kids[w], "waitpid: errno %d", errno);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "worker %d failed (%#x)", w, status);
    CHECK(served[w] == 2, "worker %d's writes to shared memory are not the parent's (%d)", w,
          served[w]);
  }
  printf("PASS\n");
  return 0;
}
