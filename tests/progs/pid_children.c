/* Children and peers named by virtual pids, before a snapshot and again in the restored
 * process: waitid by pid, by group (and 0, the caller's group) and by pidfd, through libc and
 * syscall(); clone with CLONE_PARENT (the new process is the caller's sibling), CLONE_PIDFD,
 * CLONE_PARENT_SETTID and CLONE_CHILD_SETTID, and syscall(SYS_clone / clone3 / fork);
 * set_tid_address's answer; a Unix socket peer's SO_PEERCRED and the SCM_CREDENTIALS that
 * travel both ways between this process and a child (and with sendmmsg and recvmmsg). */
#include <fcntl.h>
#include <sched.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include "pid_child.h"
#include "wait_go.h"

#define UNKNOWN_VPID 4299999
#define SYSTEM_PID 1

static pid_t me, kid;
static char sock_path[108];
static int listener;

/* Forks a child that waits for `go` to close, then exits with `code`; in a group of its own
 * when asked. */
static pid_t exiting_child(int code, int own_group, int *go) {
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  pid_t c = fork();
  CHECK(c >= 0, "fork");
  if (c == 0) {
    close(p[1]);
    if (own_group) setpgid(0, 0);
    char b;
    while (read(p[0], &b, 1) < 0) {}
    _exit(code);
  }
  if (own_group) setpgid(c, c);
  close(p[0]);
  *go = p[1];
  return c;
}

static void reaped(pid_t c, const siginfo_t *info, int code, const char *how) {
  CHECK(info->si_pid == c && info->si_code == CLD_EXITED && info->si_status == code,
        "%s: si_pid %d (expected %d), status %d", how, info->si_pid, c, info->si_status);
  CHECK(kill(c, 0) == -1 && errno == ESRCH, "%s: the reaped child's pid still names someone",
        how);
}

/* Forks a child that exits with `code` and reaps it with waitid(type, id), through libc or
 * syscall(): id is the child's pid (or its own group's), or 0 (the caller's group). */
static void wait_for_child(int code, idtype_t type, int own_group, int raw, const char *how) {
  siginfo_t info;
  int go;
  pid_t c = exiting_child(code, own_group, &go);
  close(go);
  id_t id = type == P_PGID && !own_group ? 0 : (id_t)c;
  int r = raw ? syscall(SYS_waitid, type, id, &info, WEXITED, NULL)
              : waitid(type, id, &info, WEXITED);
  CHECK(r == 0, "%s: %s", how, strerror(errno));
  reaped(c, &info, code, how);
}

static void check_waitid(void) {
  siginfo_t info;
  int go;
  pid_t c = exiting_child(3, 0, &go);
  close(go);
  CHECK(waitid(P_PID, c, &info, WEXITED | WNOWAIT) == 0 && info.si_pid == c, "WNOWAIT");
  CHECK(waitid(P_PID, c, &info, WEXITED) == 0, "waitid(P_PID): %s", strerror(errno));
  reaped(c, &info, 3, "waitid(P_PID)");
  wait_for_child(4, P_PGID, 1, 0, "waitid(P_PGID)");
  wait_for_child(5, P_PGID, 0, 0, "waitid(P_PGID, 0)");
  wait_for_child(6, P_PID, 0, 1, "SYS_waitid(P_PID)");
  wait_for_child(7, P_PGID, 1, 1, "SYS_waitid(P_PGID)");
  c = exiting_child(8, 0, &go);
  int fd = pidfd_open(c, 0);
  CHECK(fd >= 0, "pidfd_open");
  close(go);
  CHECK(waitid(P_PIDFD, fd, &info, WEXITED) == 0, "waitid(P_PIDFD): %s", strerror(errno));
  reaped(c, &info, 8, "waitid(P_PIDFD)");
  close(fd);
  CHECK(waitid(P_PID, UNKNOWN_VPID, &info, WEXITED) == -1 && errno == ECHILD, "unknown");
  CHECK(syscall(SYS_waitid, P_PID, SYSTEM_PID, &info, WEXITED, NULL) == -1 && errno == ECHILD,
        "a system pid");
}

/* What a cloned child reports: its pid, its parent's, and what CLONE_CHILD_SETTID wrote. */
struct report {
  pid_t pid, ppid, ctid;
};
static pid_t child_tid;
static int report_w, release_r, release_w;

static int cloned(void *arg) {
  struct report r = {getpid(), getppid(), child_tid};
  close(release_w); /* the parent's close of its copy lets this one go */
  if (write(report_w, &r, sizeof r) != sizeof r) return 1;
  char b;
  while (read(release_r, &b, 1) < 0) {}
  return 9;
}

struct clone_pipes {
  int report[2], release[2];
};

static void open_pipes(struct clone_pipes *p) {
  CHECK(pipe(p->report) == 0 && pipe(p->release) == 0, "pipe");
  report_w = p->report[1];
  release_r = p->release[0];
  release_w = p->release[1];
}

/* The child's report, then it may exit. */
static struct report hear(struct clone_pipes *p) {
  struct report r;
  CHECK(read(p->report[0], &r, sizeof r) == sizeof r, "no report from the clone");
  close(p->release[1]);
  close(p->report[0]);
  close(p->report[1]);
  close(p->release[0]);
  return r;
}

static int gone(pid_t v) {
  for (int i = 0; i < 300 && kill(v, 0) == 0; i++) usleep(10000);
  return kill(v, 0) == -1 && errno == ESRCH;
}

static void check_clone(void) {
  static char stack[64 * 1024] __attribute__((aligned(16)));
  char *top = stack + sizeof stack;
  struct clone_pipes p;
  int status;

  open_pipes(&p);
  pid_t v = clone(cloned, top, CLONE_PARENT | SIGCHLD, NULL);
  CHECK(v > 0, "clone(CLONE_PARENT): %s", strerror(errno));
  struct report r = hear(&p);
  CHECK(r.pid == v && r.ppid == getppid(), "CLONE_PARENT: pid %d (clone said %d), parent %d "
        "(mine is %d)", r.pid, v, r.ppid, getppid());
  CHECK(waitpid(v, &status, WNOHANG) == -1 && errno == ECHILD, "my sibling is my child");
  CHECK(gone(v), "the sibling %d was not reaped by our common parent", v);

  open_pipes(&p);
  int pidfd = -1;
  v = clone(cloned, top, CLONE_PIDFD | SIGCHLD, NULL, &pidfd);
  CHECK(v > 0 && pidfd >= 0, "clone(CLONE_PIDFD): %s", strerror(errno));
  r = hear(&p);
  siginfo_t info;
  CHECK(waitid(P_PIDFD, pidfd, &info, WEXITED) == 0, "waitid(P_PIDFD)");
  CHECK(r.pid == v && info.si_pid == v && info.si_status == 9, "CLONE_PIDFD: %d %d %d", r.pid,
        v, info.si_pid);
  close(pidfd);

  open_pipes(&p);
  pid_t ptid = 0;
  v = clone(cloned, top, CLONE_PARENT_SETTID | CLONE_CHILD_SETTID | SIGCHLD, NULL, &ptid, NULL,
            &child_tid);
  CHECK(v > 0, "clone(CLONE_PARENT_SETTID)");
  r = hear(&p);
  CHECK(ptid == v && r.pid == v && r.ctid == v && r.ppid == me,
        "SETTID: parent_tid %d, child_tid %d, pid %d, clone said %d", ptid, r.ctid, r.pid, v);
  CHECK(waitpid(v, &status, 0) == v && WEXITSTATUS(status) == 9, "waitpid(clone)");
}

/* syscall(SYS_clone...) returns twice on this stack, like fork. */
static void check_raw_clone(void) {
  int status;
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  long forms[3] = {SYS_fork, SYS_clone, SYS_clone3};
  for (int i = 0; i < 3; i++) {
    pid_t ptid = 0;
    int pidfd = -1;
    struct clone_args args = {.flags = CLONE_PIDFD, .pidfd = (uintptr_t)&pidfd,
                              .exit_signal = SIGCHLD};
    long v = forms[i] == SYS_fork ? syscall(SYS_fork)
             : forms[i] == SYS_clone
                 ? syscall(SYS_clone, CLONE_PARENT_SETTID | SIGCHLD, 0, &ptid, NULL, 0)
                 : syscall(SYS_clone3, &args, sizeof args);
    if (v == 0) {
      pid_t pair[2] = {getpid(), getppid()};
      _exit(write(p[1], pair, sizeof pair) == sizeof pair ? 4 : 1);
    }
    CHECK(v > 0, "raw clone %d: %s", i, strerror(errno));
    pid_t pair[2];
    CHECK(read(p[0], pair, sizeof pair) == sizeof pair, "raw clone %d: no report", i);
    CHECK(pair[0] == v && pair[1] == me, "raw clone %d: pid %d, parent %d, returned %ld", i,
          pair[0], pair[1], v);
    if (forms[i] == SYS_clone) CHECK(ptid == v, "SYS_clone's parent_tid is %d", ptid);
    if (forms[i] == SYS_clone3) {
      siginfo_t info;
      CHECK(waitid(P_PIDFD, pidfd, &info, WEXITED) == 0 && info.si_pid == v, "clone3's pidfd");
      close(pidfd);
    } else {
      CHECK(waitpid(v, &status, 0) == v && WEXITSTATUS(status) == 4, "waitpid(raw clone %d)", i);
    }
  }
  pid_t chosen = 4200123;
  struct clone_args args = {.exit_signal = SIGCHLD, .set_tid = (uintptr_t)&chosen,
                            .set_tid_size = 1};
  CHECK(syscall(SYS_clone3, &args, sizeof args) == -1 && errno == EINVAL, "clone3 set_tid");
  pid_t c = fork();
  if (c == 0) {
    static int tid_word;
    _exit(syscall(SYS_set_tid_address, &tid_word) == getpid() ? 0 : 1);
  }
  CHECK(waitpid(c, &status, 0) == c && WEXITSTATUS(status) == 0, "set_tid_address's answer");
  close(p[0]);
  close(p[1]);
}

/* One byte with an SCM_CREDENTIALS message attached, ready for sendmsg or recvmsg. */
struct creds_msg {
  char byte;
  struct iovec iov;
  union {
    char buf[CMSG_SPACE(sizeof(struct ucred))];
    struct cmsghdr align;
  } control;
  struct msghdr msg;
};

/* Fills m with `byte` and credentials `cred`; returns the message's control header. */
static struct cmsghdr *creds_msg(struct creds_msg *m, char byte, struct ucred cred) {
  m->byte = byte;
  m->iov = (struct iovec){&m->byte, 1};
  m->msg = (struct msghdr){.msg_iov = &m->iov, .msg_iovlen = 1, .msg_control = m->control.buf,
                           .msg_controllen = sizeof m->control.buf};
  struct cmsghdr *c = CMSG_FIRSTHDR(&m->msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_CREDENTIALS;
  c->cmsg_len = CMSG_LEN(sizeof cred);
  memcpy(CMSG_DATA(c), &cred, sizeof cred);
  return c;
}

/* The child's side of a credentials exchange: connect, send its own credentials (named by its
 * virtual pid), answer with the pid in the credentials that come back. */
static long exchange(void) {
  int s = socket(AF_UNIX, SOCK_STREAM, 0), on = 1;
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  memcpy(addr.sun_path, sock_path, sizeof addr.sun_path);
  setsockopt(s, SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
  if (connect(s, (struct sockaddr *)&addr, sizeof addr) != 0) return -errno;
  struct ucred cred = {getpid(), getuid(), getgid()};
  struct creds_msg m;
  creds_msg(&m, 'c', cred);
  if (sendmsg(s, &m.msg, 0) != 1) return -errno;
  if (recvmsg(s, &m.msg, 0) != 1) return -errno;
  struct cmsghdr *c = CMSG_FIRSTHDR(&m.msg);
  if (!c || c->cmsg_type != SCM_CREDENTIALS) return -EBADMSG;
  memcpy(&cred, CMSG_DATA(c), sizeof cred);
  close(s);
  return cred.pid;
}

static void no_setup(void) {}
static long answer(char c) { return c == 'x' ? exchange() : -1; }

/* Sends one byte with credentials naming `pid`, with sendmsg, or sendmmsg (many: 1, or 2 through
 * syscall()): 0 or -errno. */
static int send_creds(int s, pid_t pid, int many) {
  struct creds_msg m;
  struct cmsghdr *c = creds_msg(&m, 'p', (struct ucred){pid, getuid(), getgid()});
  struct mmsghdr one = {.msg_hdr = m.msg};
  int sent = many == 2 ? syscall(SYS_sendmmsg, s, &one, 1, 0) /* through syscall() */
             : many     ? sendmmsg(s, &one, 1, 0)
                        : (sendmsg(s, &m.msg, 0) == 1);
  int r = sent == 1 ? 0 : -errno;
  struct ucred cred;
  memcpy(&cred, CMSG_DATA(c), sizeof cred);
  CHECK(cred.pid == pid, "sendmsg left %d in the program's credentials", cred.pid);
  return r;
}

static void check_credentials(void) {
  CHECK(write(child_cmd_w, "x", 1) == 1, "ask x");
  int s = accept(listener, NULL, NULL);
  CHECK(s >= 0, "accept: %s", strerror(errno));
  struct ucred peer;
  socklen_t len = sizeof peer;
  CHECK(getsockopt(s, SOL_SOCKET, SO_PEERCRED, &peer, &len) == 0 && peer.pid == kid,
        "SO_PEERCRED reads %d, the child is %d", peer.pid, kid);
  len = sizeof peer;
  CHECK(syscall(SYS_getsockopt, s, SOL_SOCKET, SO_PEERCRED, &peer, &len) == 0 && peer.pid == kid,
        "SYS_getsockopt SO_PEERCRED reads %d", peer.pid);
  int on = 1;
  setsockopt(s, SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
  char byte, buf[CMSG_SPACE(sizeof peer)];
  struct iovec iov = {&byte, 1};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = buf,
                       .msg_controllen = sizeof buf};
  CHECK(recvmsg(s, &msg, 0) == 1, "recvmsg");
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  CHECK(c && c->cmsg_type == SCM_CREDENTIALS, "no credentials came");
  memcpy(&peer, CMSG_DATA(c), sizeof peer);
  CHECK(peer.pid == kid, "SCM_CREDENTIALS name %d, the child is %d", peer.pid, kid);
  CHECK(send_creds(s, UNKNOWN_VPID, 0) == -ESRCH, "credentials naming an unknown pid");
  CHECK(send_creds(s, SYSTEM_PID, 0) == -ESRCH, "credentials naming a system pid");
  CHECK(send_creds(s, me, 0) == 0, "sendmsg with my credentials: %s", strerror(errno));
  long heard;
  CHECK(read(child_reply_r, &heard, sizeof heard) == sizeof heard && heard == me,
        "the child read my credentials as %ld", heard);
  close(s);
  int pair[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0, "socketpair");
  len = sizeof peer;
  CHECK(getsockopt(pair[0], SOL_SOCKET, SO_PEERCRED, &peer, &len) == 0 && peer.pid == me,
        "a socketpair's SO_PEERCRED reads %d", peer.pid);
  /* Several messages at a time: sendmmsg and recvmmsg. */
  setsockopt(pair[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
  CHECK(send_creds(pair[0], UNKNOWN_VPID, 1) == -ESRCH, "sendmmsg naming an unknown pid");
  CHECK(send_creds(pair[0], me, 1) == 0, "sendmmsg: %s", strerror(errno));
  struct mmsghdr one = {.msg_hdr = msg};
  one.msg_hdr.msg_controllen = sizeof buf;
  CHECK(recvmmsg(pair[1], &one, 1, 0, NULL) == 1, "recvmmsg: %s", strerror(errno));
  c = CMSG_FIRSTHDR(&one.msg_hdr);
  CHECK(c && c->cmsg_type == SCM_CREDENTIALS, "no credentials came through recvmmsg");
  memcpy(&peer, CMSG_DATA(c), sizeof peer);
  CHECK(peer.pid == me, "recvmmsg's credentials name %d, I am %d", peer.pid, me);
  CHECK(send_creds(pair[0], me, 2) == 0, "SYS_sendmmsg: %s", strerror(errno));
  one.msg_hdr.msg_controllen = sizeof buf;
  CHECK(syscall(SYS_recvmmsg, pair[1], &one, 1, 0, NULL) == 1, "SYS_recvmmsg");
  c = CMSG_FIRSTHDR(&one.msg_hdr);
  memcpy(&peer, CMSG_DATA(c), sizeof peer);
  CHECK(peer.pid == me, "SYS_recvmmsg's credentials name %d", peer.pid);
  close(pair[0]);
  close(pair[1]);
}

static void check_all(void) {
  check_waitid();
  check_clone();
  check_raw_clone();
  check_credentials();
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: pid_children DIR");
  setvbuf(stdout, NULL, _IOLBF, 0);
  snprintf(sock_path, sizeof sock_path, "%s/creds.sock", argv[1]);
  listener = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  memcpy(addr.sun_path, sock_path, sizeof addr.sun_path);
  CHECK(bind(listener, (struct sockaddr *)&addr, sizeof addr) == 0 && listen(listener, 4) == 0,
        "listen on %s: %s", sock_path, strerror(errno));
  me = getpid();
  kid = start_child(no_setup, answer);
  check_all();
  say_ready();
  wait_go(argv[1]);
  CHECK(getpid() == me, "my pid changed");
  check_all();
  stop_child();
  printf("PASS\n");
  return 0;
}
