/* Connections waiting in a listener's accept queue whose clients are in the application: a
 * parent listens (Unix stream and seqpacket, at DIR/stream.sock and DIR/seqpacket.sock, bound
 * by names relative to DIR, its working directory, and TCP on 127.0.0.1) and accepts nothing before DIR/go; its child connects three clients to each.
 * After the restore the parent accepts them all and tells each its number: each Unix client
 * checks it is its own (the order they connected in), the TCP clients that they are all there;
 * they talk both ways; nothing more waits. The child, in /, connects by the full names, and,
 * run as root, as user and group 65534; each accepted Unix connection's SO_PEERCRED names the child (its pid as fork returned
 * it, its uid and gid), as the kernel said when it connected.
 *
 *   backlog_kept DIR   prints "ready", after DIR/go "child: ok" and "PASS" */
#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "wait_go.h"

#define CLIENTS 3
#define KINDS 3
#define TCP 2
#define NOBODY 65534
static const int types[KINDS] = {SOCK_STREAM, SOCK_SEQPACKET, SOCK_STREAM};
static const char *names[KINDS] = {"stream", "seqpacket", "tcp"};

union address {
  struct sockaddr_un un;
  struct sockaddr_in in;
};

/* dir NULL: the name relative to DIR. */
static union address address(const char *dir, int k, int port) {
  union address a;
  memset(&a, 0, sizeof a);
  if (k == TCP) {
    a.in.sin_family = AF_INET;
    a.in.sin_port = htons((uint16_t)port);
    a.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  } else {
    a.un.sun_family = AF_UNIX;
    snprintf(a.un.sun_path, sizeof a.un.sun_path, "%s%s%s.sock", dir ? dir : "", dir ? "/" : "",
             names[k]);
  }
  return a;
}

static socklen_t size_of(int k) {
  return k == TCP ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_un);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  CHECK(argc == 2, "usage: backlog_kept DIR");
  int listeners[KINDS], done[2], port = 0;
  CHECK(chdir(argv[1]) == 0, "chdir: errno %d", errno);
  for (int k = 0; k < KINDS; k++) {
    union address a = address(NULL, k, 0);
    socklen_t len = size_of(k);
    listeners[k] = socket(k == TCP ? AF_INET : AF_UNIX, types[k], 0);
    CHECK(listeners[k] >= 0 && bind(listeners[k], (struct sockaddr *)&a, len) == 0 &&
              listen(listeners[k], 8) == 0 && getsockname(listeners[k], (struct sockaddr *)&a, &len) == 0,
          "listen: errno %d", errno);
    if (k == TCP) port = ntohs(a.in.sin_port);
    else CHECK(chmod(a.un.sun_path, 0777) == 0, "chmod: errno %d", errno); /* for the child */
  }
  CHECK(chmod(".", 0755) == 0, "chmod: errno %d", errno);
  uid_t uid = getuid() ? getuid() : NOBODY; /* the child's */
  gid_t gid = getuid() ? getgid() : NOBODY;
  CHECK(pipe(done) == 0, "pipe: errno %d", errno);
  pid_t child = fork();
  CHECK(child >= 0, "fork: errno %d", errno);
  if (child == 0) {
    for (int k = 0; k < KINDS; k++) close(listeners[k]);
    CHECK(chdir("/") == 0, "chdir: errno %d", errno);
    CHECK(getuid() || (setgroups(0, NULL) == 0 && setresgid(gid, gid, gid) == 0 &&
                       setresuid(uid, uid, uid) == 0),
          "cannot become user %d: errno %d", (int)uid, errno);
    int clients[KINDS][CLIENTS];
    for (int k = 0; k < KINDS; k++)
      for (int i = 0; i < CLIENTS; i++) {
        union address a = address(argv[1], k, port);
        clients[k][i] = socket(k == TCP ? AF_INET : AF_UNIX, types[k], 0);
        CHECK(clients[k][i] >= 0 && connect(clients[k][i], (struct sockaddr *)&a, size_of(k)) == 0,
              "connect: errno %d", errno);
      }
    CHECK(write(done[1], "c", 1) == 1, "write: errno %d", errno);
    wait_go(argv[1]);
    for (int k = 0; k < KINDS; k++) {
      int seen = 0;
      for (int i = 0; i < CLIENTS; i++) {
        char n = 0;
        CHECK(read(clients[k][i], &n, 1) == 1, "%s client %d: read: errno %d", names[k], i, errno);
        CHECK(n >= '0' && n < '0' + CLIENTS && !(seen & 1 << (n - '0')),
              "%s client %d was accepted as number %c", names[k], i, n);
        seen |= 1 << (n - '0');
        /* Unix queues keep their order; TCP ones are each there. */
        CHECK(k == TCP || n == '0' + i, "%s client %d was accepted as number %c", names[k], i, n);
        CHECK(write(clients[k][i], "ok", 2) == 2, "%s client %d: write: errno %d", names[k], i,
              errno);
      }
    }
    printf("child: ok\n");
    return 0;
  }
  char c;
  CHECK(read(done[0], &c, 1) == 1, "the child did not connect");
  say_ready();
  wait_go(argv[1]);
  for (int k = 0; k < KINDS; k++) {
    struct pollfd p = {listeners[k], POLLIN, 0};
    CHECK(poll(&p, 1, 20000) == 1, "%s: no connection waiting after the restore", names[k]);
    int accepted[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
      accepted[i] = accept4(listeners[k], NULL, NULL, SOCK_NONBLOCK);
      CHECK(accepted[i] >= 0, "%s: accept %d: errno %d", names[k], i, errno);
      struct ucred cred;
      socklen_t len = sizeof cred;
      CHECK(k == TCP || (getsockopt(accepted[i], SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
                         cred.pid == child && cred.uid == uid && cred.gid == gid),
            "%s: connection %d's SO_PEERCRED is pid %d uid %d gid %d, not the child's (%d, %d, %d)",
            names[k], i, (int)cred.pid, (int)cred.uid, (int)cred.gid, (int)child, (int)uid, (int)gid);
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
