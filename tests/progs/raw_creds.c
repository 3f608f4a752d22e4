/* SCM_CREDENTIALS pids in sendmsg, recvmsg, sendmmsg and recvmmsg made raw from the program's
 * own code (as Go's runtime makes them) and through syscall(): a sender names its own virtual
 * pid and the kernel takes it, a receiver reads the sender's virtual pid, before a snapshot and
 * after each restore (new system pids). The second seccomp filter that translates them is
 * stacked only once the process turns SO_PASSCRED on: a child that never does keeps one filter,
 * also after a restore; a fork's child and an exec'd program keep the two, never three, and a
 * restored process has both again. Usage: raw_creds <dir>, or raw_creds --exec (the checks of
 * the exec'd program). */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "creds_msg.h"
#include "raw_call.h"
#include "wait_go.h"

static pid_t pid_in(struct msghdr *m) {
  for (struct cmsghdr *h = CMSG_FIRSTHDR(m); h; h = CMSG_NXTHDR(m, h))
    if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_CREDENTIALS) {
      struct ucred u;
      memcpy(&u, CMSG_DATA(h), sizeof u);
      return u.pid;
    }
  return -1;
}

static long send_msg(int fd, struct msghdr *m, int raw) {
  return raw ? raw_call(SYS_sendmsg, fd, (long)m, 0, 0) : syscall(SYS_sendmsg, fd, m, 0);
}

/* The pid the credentials of the next message name, read raw or through syscall(). */
static pid_t recv_pid(int fd, int raw, const char *when) {
  struct creds_msg c;
  make_msg(&c, 0);
  long r = raw ? raw_call(SYS_recvmsg, fd, (long)&c.m, 0, 0) : syscall(SYS_recvmsg, fd, &c.m, 0);
  CHECK(r == 1, "%s: recvmsg (%s): %ld", when, raw ? "raw" : "syscall()", r);
  return pid_in(&c.m);
}

/* Credentials the program names, and those the kernel adds, each way. */
static void own_creds(int sv[2], const char *when) {
  for (int raw = 1; raw >= 0; raw--) {
    const char *how = raw ? "raw" : "syscall()";
    struct creds_msg c;
    make_msg(&c, getpid());
    long r = send_msg(sv[0], &c.m, raw);
    CHECK(r == 1, "%s: %s sendmsg naming its own pid %d: %ld", when, how, getpid(), r);
    CHECK(pid_in(&c.m) == getpid(), "%s: %s sendmsg left %d in the program's message, not %d",
          when, how, pid_in(&c.m), getpid());
    pid_t got = recv_pid(sv[1], raw, when);
    CHECK(got == getpid(), "%s: %s recvmsg reads pid %d, not %d", when, how, got, getpid());
    make_msg(&c, 0);
    c.m.msg_controllen = 0;
    CHECK(send_msg(sv[0], &c.m, raw) == 1, "%s: %s sendmsg without credentials", when, how);
    got = recv_pid(sv[1], raw, when);
    CHECK(got == getpid(), "%s: %s recvmsg of the kernel's credentials reads %d, not %d", when,
          how, got, getpid());
  }
  struct creds_msg c;
  make_msg(&c, 4999999);
  long r = raw_call(SYS_sendmsg, sv[0], (long)&c.m, 0, 0);
  CHECK(r == -ESRCH, "%s: raw sendmsg naming no process: %ld, not -ESRCH", when, r);
}

static void many_creds(int sv[2], const char *when) {
  struct creds_msg c[2];
  struct mmsghdr v[2];
  for (int i = 0; i < 2; i++) {
    make_msg(&c[i], getpid());
    v[i].msg_hdr = c[i].m;
    v[i].msg_len = 0;
  }
  long r = raw_call(SYS_sendmmsg, sv[0], (long)v, 2, 0);
  CHECK(r == 2 && v[0].msg_len == 1 && v[1].msg_len == 1,
        "%s: raw sendmmsg naming its own pid: %ld (%u, %u)", when, r, v[0].msg_len, v[1].msg_len);
  CHECK(pid_in(&v[1].msg_hdr) == getpid(), "%s: raw sendmmsg changed the program's message", when);
  for (int i = 0; i < 2; i++) {
    make_msg(&c[i], 0);
    v[i].msg_hdr = c[i].m;
  }
  r = raw_call5(SYS_recvmmsg, sv[1], (long)v, 2, 0, 0);
  CHECK(r == 2, "%s: raw recvmmsg: %ld", when, r);
  for (int i = 0; i < 2; i++)
    CHECK(pid_in(&v[i].msg_hdr) == getpid(), "%s: raw recvmmsg message %d reads %d, not %d",
          when, i, pid_in(&v[i].msg_hdr), getpid());
}

/* A child names its own pid raw (its filters inherited); the parent reads the same. */
static void child_creds(int sv[2], const char *when) {
  pid_t child = fork();
  CHECK(child >= 0, "fork");
  if (child == 0) {
    CHECK(filters() == 2, "%s: a fork's child has %d filters, not 2", when, filters());
    struct creds_msg c;
    make_msg(&c, getpid());
    long r = raw_call(SYS_sendmsg, sv[0], (long)&c.m, 0, 0);
    CHECK(r == 1, "%s: the child's raw sendmsg naming its pid %d: %ld", when, getpid(), r);
    _exit(0);
  }
  pid_t got = recv_pid(sv[1], 1, when);
  int status;
  CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && !WEXITSTATUS(status),
        "%s: the sending child failed", when);
  CHECK(got == child, "%s: the child's credentials read %d, not its pid %d", when, got, child);
}

/* An exec'd program inherits both filters; turning SO_PASSCRED on again stacks no third. */
static int exec_checks(void) {
  int sv[2], one = 1;
  CHECK(filters() == 2, "exec'd: %d filters, not 2", filters());
  CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0, "socketpair");
  CHECK(raw_call5(SYS_setsockopt, sv[1], SOL_SOCKET, SO_PASSCRED, (long)&one, sizeof one) == 0,
        "exec'd: raw SO_PASSCRED");
  CHECK(filters() == 2, "exec'd: %d filters after SO_PASSCRED, not 2", filters());
  own_creds(sv, "exec'd");
  return 0;
}

static void exec_child(const char *when) {
  pid_t child = fork();
  CHECK(child >= 0, "fork");
  if (child == 0) {
    execl("/proc/self/exe", "raw_creds", "--exec", (char *)NULL);
    _exit(127);
  }
  int status;
  CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && !WEXITSTATUS(status),
        "%s: the exec'd program failed (status %#x)", when, status);
}

static void all_checks(int sv[2], const char *when) {
  CHECK(filters() == 2, "%s: %d filters, not 2", when, filters());
  own_creds(sv, when);
  many_creds(sv, when);
  child_creds(sv, when);
  exec_child(when);
}

int main(int argc, char **argv) {
  if (argc == 2 && !strcmp(argv[1], "--exec")) return exec_checks();
  CHECK(argc == 2, "usage: raw_creds DIR");
  setvbuf(stdout, NULL, _IOLBF, 0);
  CHECK(filters() == 1, "the layer's filter alone: %d filters", filters());
  int sv[2], one = 1;
  CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0, "socketpair");
  struct creds_msg c;
  make_msg(&c, 0);
  c.m.msg_controllen = 0;
  CHECK(raw_call(SYS_sendmsg, sv[0], (long)&c.m, 0, 0) == 1, "plain raw sendmsg");
  CHECK(recv_pid(sv[1], 1, "plain") == -1, "credentials without SO_PASSCRED");
  CHECK(filters() == 1, "a plain raw sendmsg and recvmsg stacked a filter: %d", filters());

  pid_t quiet = fork(); /* never asks for credentials: one filter, also after a restore */
  CHECK(quiet >= 0, "fork");
  if (quiet == 0) {
    wait_go(argv[1]);
    CHECK(filters() == 1, "a process that never turned SO_PASSCRED on has %d filters",
          filters());
    _exit(0);
  }

  long r = raw_call5(SYS_setsockopt, sv[1], SOL_SOCKET, SO_PASSCRED, (long)&one, sizeof one);
  CHECK(r == 0, "raw setsockopt SO_PASSCRED: %ld", r);
  all_checks(sv, "before");
  say_ready();
  wait_go(argv[1]);
  all_checks(sv, "after");
  int status;
  CHECK(waitpid(quiet, &status, 0) == quiet && WIFEXITED(status) && !WEXITSTATUS(status),
        "the child without SO_PASSCRED failed");
  printf("PASS\n");
  return 0;
}
