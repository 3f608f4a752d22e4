/* SCM_CREDENTIALS naming the sender's own virtual pid (and, as root, its parent's), sent by a
 * process that never turned SO_PASSCRED on (so it has the seccomp layer's first filter only):
 * made raw from the program's own code (sendmsg and sendmmsg, as Go's runtime makes them),
 * through syscall() and through libc (sendmsg, sendmmsg), from a message in read-only memory
 * (the library must not write the program's buffer). The kernel takes each (not ESRCH), and the receiver, another
 * process with SO_PASSCRED, reads the pid that was named, with uid and gid as they were sent;
 * before a snapshot, after a restore and after a second. Usage: creds_send DIR: says "ready",
 * waits for DIR/again, says "restored once", waits for DIR/go; prints PASS or FAIL. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "creds_msg.h"
#include "raw_call.h"
#include "wait_go.h"

#define MESSAGES 8 /* each round: raw, syscall(), libc, raw and libc sendmmsg of two; the parent */

/* A one-byte message naming `pid`, in a page made read-only (the page is written first). */
static const struct creds_msg *readonly_msg(struct creds_msg *page, pid_t pid) {
  CHECK(mprotect(page, 4096, PROT_READ | PROT_WRITE) == 0, "mprotect");
  make_msg(page, pid);
  CHECK(mprotect(page, 4096, PROT_READ) == 0, "mprotect read-only");
  return page;
}

/* The sender: one round per byte from the parent, until 'q'. */
static int sender(int fd) {
  struct creds_msg *page = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(page != MAP_FAILED, "mmap");
  for (int round = 1;; round++) {
    char cmd;
    CHECK(recv(fd, &cmd, 1, 0) == 1, "sender: recv");
    if (cmd == 'q') return 0;
    CHECK(filters() == 1, "round %d: the sender has %d seccomp filters, not 1", round, filters());
    pid_t me = getpid();
    const struct creds_msg *c = readonly_msg(page, me);
    long r = raw_call(SYS_sendmsg, fd, (long)&c->m, 0, 0);
    CHECK(r == 1, "round %d: raw sendmsg naming its own pid %d: %ld", round, me, r);
    r = syscall(SYS_sendmsg, fd, &c->m, 0);
    CHECK(r == 1, "round %d: syscall(sendmsg) naming its own pid %d: %ld (%s)", round, me, r,
          strerror(errno));
    r = sendmsg(fd, &c->m, 0);
    CHECK(r == 1, "round %d: libc sendmsg naming its own pid %d: %ld (%s)", round, me, r,
          strerror(errno));
    struct mmsghdr v[2] = {{c->m, 0}, {c->m, 0}};
    r = raw_call(SYS_sendmmsg, fd, (long)v, 2, 0);
    CHECK(r == 2 && v[0].msg_len == 1 && v[1].msg_len == 1,
          "round %d: raw sendmmsg naming its own pid %d: %ld (%u, %u)", round, me, r, v[0].msg_len,
          v[1].msg_len);
    v[0].msg_len = v[1].msg_len = 0;
    r = sendmmsg(fd, v, 2, 0);
    CHECK(r == 2 && v[0].msg_len == 1 && v[1].msg_len == 1,
          "round %d: libc sendmmsg naming its own pid %d: %ld (%s)", round, me, r, strerror(errno));
    /* root may name another process: its parent, by its virtual pid */
    c = readonly_msg(page, geteuid() == 0 ? getppid() : me);
    r = raw_call(SYS_sendmsg, fd, (long)&c->m, 0, 0);
    CHECK(r == 1, "round %d: raw sendmsg naming its parent %d: %ld", round, getppid(), r);
    c = readonly_msg(page, 4999999);
    r = raw_call(SYS_sendmsg, fd, (long)&c->m, 0, 0);
    CHECK(r == -ESRCH, "round %d: raw sendmsg naming no process: %ld, not -ESRCH", round, r);
  }
}

/* The receiver's side of a round: every message names the sender, the last its parent. */
static void round_trip(int fd, pid_t child, const char *when) {
  CHECK(send(fd, "g", 1, 0) == 1, "%s: send", when);
  for (int i = 0; i < MESSAGES; i++) {
    char byte;
    struct iovec iov = {&byte, 1};
    union {
      char buf[CMSG_SPACE(sizeof(struct ucred))];
      struct cmsghdr align;
    } ctl;
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctl.buf;
    m.msg_controllen = sizeof ctl.buf;
    long r = recvmsg(fd, &m, 0);
    int status = 0, err = errno;
    CHECK(r == 1, "%s: message %d: recvmsg %ld (%s): the sender sent nothing%s (status %#x)",
          when, i, r, strerror(err), waitpid(child, &status, WNOHANG) == child ? " and ended" : "",
          status);
    struct cmsghdr *h = CMSG_FIRSTHDR(&m);
    CHECK(h && h->cmsg_type == SCM_CREDENTIALS, "%s: message %d without credentials", when, i);
    struct ucred u;
    memcpy(&u, CMSG_DATA(h), sizeof u);
    pid_t want = i == MESSAGES - 1 && geteuid() == 0 ? getpid() : child;
    CHECK(u.pid == want && u.uid == getuid() && u.gid == getgid(),
          "%s: message %d names pid %d uid %u gid %u, not %d %u %u", when, i, u.pid, u.uid, u.gid,
          want, getuid(), getgid());
  }
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: creds_send DIR");
  setvbuf(stdout, NULL, _IOLBF, 0);
  int sv[2], one = 1;
  CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0, "socketpair");
  pid_t child = fork();
  CHECK(child >= 0, "fork");
  if (child == 0) {
    close(sv[1]);
    return sender(sv[0]);
  }
  close(sv[0]);
  CHECK(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof one) == 0, "SO_PASSCRED");
  struct timeval limit = {20, 0};
  CHECK(setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit) == 0, "SO_RCVTIMEO");
  round_trip(sv[1], child, "before");
  say_ready();
  while (!dir_has(argv[1], "again")) usleep(10000);
  round_trip(sv[1], child, "after a restore");
  printf("restored once\n");
  wait_go(argv[1]);
  round_trip(sv[1], child, "after two restores");
  CHECK(send(sv[1], "q", 1, 0) == 1, "send q");
  int status;
  CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && !WEXITSTATUS(status),
        "the sender failed");
  printf("PASS\n");
  return 0;
}
