/* Unread datagrams of a bound Unix datagram socket with SO_PASSCRED (a syslog daemon's
 * /dev/log) and the credentials each came with.
 *
 *   queued_creds DIR self    one datagram from another socket of this process: says "ready",
 *                            waits for DIR/go, reads it: its credentials name this process
 *                            (its pid, uid, gid), after a restore too; prints PASS.
 *   queued_creds DIR others  one from a child, then "ready" and ticks until DIR/go (the
 *                            snapshot must refuse: a restore could not send it again in the
 *                            child's name); reads it, its pid the child's; prints PASS.
 *   queued_creds DIR send    a process outside the application: sends one datagram, ends. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "wait_go.h"

static struct sockaddr_un addr = {.sun_family = AF_UNIX};

static void send_one(const char *what) {
  int s = socket(AF_UNIX, SOCK_DGRAM, 0);
  CHECK(s >= 0, "socket: errno %d", errno);
  CHECK(sendto(s, what, strlen(what), 0, (struct sockaddr *)&addr, sizeof addr) ==
            (ssize_t)strlen(what), "sendto: errno %d", errno);
  close(s);
}

/* The next datagram, and the credentials it came with. */
static void read_one(int fd, char *buf, size_t len, struct ucred *cred) {
  char control[CMSG_SPACE(sizeof *cred)] __attribute__((aligned(8)));
  struct iovec iov = {buf, len - 1};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                       .msg_controllen = sizeof control};
  ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT);
  CHECK(n >= 0, "recvmsg: errno %d", errno);
  buf[n] = 0;
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  CHECK(c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS,
        "datagram '%s' came without credentials", buf);
  memcpy(cred, CMSG_DATA(c), sizeof *cred);
  printf("'%s' from pid %d uid %d gid %d\n", buf, (int)cred->pid, (int)cred->uid, (int)cred->gid);
}

int main(int argc, char **argv) {
  CHECK(argc == 3, "usage: queued_creds DIR self|others|send");
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s/log.sock", argv[1]);
  if (!strcmp(argv[2], "send")) {
    send_one("outside");
    return 0;
  }
  int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  int on = 1;
  CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0, "bind: errno %d", errno);
  CHECK(setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) == 0, "SO_PASSCRED");
  char buf[64];
  struct ucred cred;
  if (!strcmp(argv[2], "self")) {
    send_one("mine");
    say_ready();
    wait_go(argv[1]);
    read_one(fd, buf, sizeof buf, &cred);
    CHECK(!strcmp(buf, "mine") && cred.pid == getpid() && cred.uid == getuid() &&
              cred.gid == getgid(), "expected this process's pid %d uid %d gid %d", (int)getpid(),
          (int)getuid(), (int)getgid());
    printf("PASS\n");
    return 0;
  }
  pid_t child = fork();
  CHECK(child >= 0, "fork");
  if (child == 0) {
    send_one("child");
    pause();
    _exit(0);
  }
  struct timeval patience = {10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof patience);
  char peek;
  CHECK(recv(fd, &peek, 1, MSG_PEEK) == 1, "the child's datagram did not come");
  tick_until_go(argv[1]);
  read_one(fd, buf, sizeof buf, &cred);
  CHECK(!strcmp(buf, "child") && cred.pid == child, "expected the child's pid %d", (int)child);
  kill(child, SIGKILL);
  waitpid(child, NULL, 0);
  printf("PASS\n");
  return 0;
}
