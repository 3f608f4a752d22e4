/* Calls that name a process through a command or a structure, made raw from the program's own
 * code (as Go's runtime makes them): fcntl's and ioctl's owner of SIGIO, getsockopt's peer
 * credentials, capget and capset, a timer aimed at a thread. Each must act on the process it
 * names and give back virtual ids, before a snapshot and after each restore (new system pids).
 * Usage: raw_owner_calls <dir> */
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "raw_call.h"
#include "wait_go.h"

static volatile sig_atomic_t sigio, timer_fired;
static void on_sigio(int sig) { sigio++; }
static void on_timer(int sig) { timer_fired++; }

/* SIGIO from a socket whose owner was set raw: the kernel must have the right process. */
static void owner_calls(const char *when) {
  pid_t self = getpid(), tid = gettid();
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
  long r = raw_call(SYS_fcntl, sv[0], F_SETOWN, self, 0);
  CHECK(r == 0, "%s: raw F_SETOWN of its own pid %d: %ld", when, self, r);
  r = raw_call(SYS_fcntl, sv[0], F_GETOWN, 0, 0);
  CHECK(r == self, "%s: raw F_GETOWN: %ld, not %d", when, r, self);
  CHECK(fcntl(sv[0], F_GETOWN) == self, "%s: libc F_GETOWN after a raw F_SETOWN", when);
  CHECK(fcntl(sv[0], F_SETFL, O_ASYNC | O_NONBLOCK) == 0, "O_ASYNC");
  sigio = 0;
  CHECK(write(sv[1], "x", 1) == 1, "write");
  for (int i = 0; i < 200 && !sigio; i++) usleep(1000);
  CHECK(sigio > 0, "%s: no SIGIO after a raw F_SETOWN: it went to another process", when);

  struct f_owner_ex ex = {F_OWNER_TID, tid}, back = {0, 0};
  r = raw_call(SYS_fcntl, sv[0], F_SETOWN_EX, (long)&ex, 0);
  CHECK(r == 0, "%s: raw F_SETOWN_EX of its own tid %d: %ld", when, tid, r);
  r = raw_call(SYS_fcntl, sv[0], F_GETOWN_EX, (long)&back, 0);
  CHECK(r == 0 && back.type == F_OWNER_TID && back.pid == tid,
        "%s: raw F_GETOWN_EX: %ld, type %d pid %d, not %d", when, r, back.type, back.pid, tid);

  int who = self, got = 0;
  r = raw_call(SYS_ioctl, sv[0], FIOSETOWN, (long)&who, 0);
  CHECK(r == 0, "%s: raw FIOSETOWN: %ld", when, r);
  r = raw_call(SYS_ioctl, sv[0], FIOGETOWN, (long)&got, 0);
  CHECK(r == 0 && got == self, "%s: raw FIOGETOWN: %ld, %d not %d", when, r, got, self);
  r = raw_call(SYS_ioctl, sv[0], SIOCGPGRP, (long)&got, 0);
  CHECK(r == 0 && got == self, "%s: raw SIOCGPGRP: %ld, %d not %d", when, r, got, self);

  struct ucred cred = {0, 0, 0};
  socklen_t len = sizeof cred;
  r = raw_call5(SYS_getsockopt, sv[1], SOL_SOCKET, SO_PEERCRED, (long)&cred, (long)&len);
  CHECK(r == 0 && cred.pid == self, "%s: raw SO_PEERCRED: %ld, pid %d, not %d", when, r, cred.pid,
        self);
  int type = 0;
  len = sizeof type;
  r = raw_call5(SYS_getsockopt, sv[1], SOL_SOCKET, SO_TYPE, (long)&type, (long)&len);
  CHECK(r == 0 && type == SOCK_STREAM, "%s: raw SO_TYPE: %ld, %d", when, r, type);
  close(sv[0]);
  close(sv[1]);
}

static void capability_calls(const char *when) {
  struct __user_cap_header_struct head = {_LINUX_CAPABILITY_VERSION_3, getpid()};
  struct __user_cap_data_struct data[2], mine[2];
  long r = raw_call(SYS_capget, (long)&head, (long)data, 0, 0);
  CHECK(r == 0, "%s: raw capget of its own pid %d: %ld", when, head.pid, r);
  head.pid = 0;
  CHECK(raw_call(SYS_capget, (long)&head, (long)mine, 0, 0) == 0, "raw capget of 0");
  CHECK(!memcmp(data, mine, sizeof data), "%s: raw capget by pid read another process", when);
  head.pid = getpid();
  r = raw_call(SYS_capset, (long)&head, (long)data, 0, 0);
  CHECK(r == 0, "%s: raw capset of its own pid: %ld", when, r);
}

static void thread_timer(const char *when) {
  struct sigevent ev;
  memset(&ev, 0, sizeof ev);
  ev.sigev_notify = SIGEV_THREAD_ID;
  ev.sigev_signo = SIGUSR2;
  ev._sigev_un._tid = gettid();
  int id = -1;
  long r = raw_call(SYS_timer_create, CLOCK_MONOTONIC, (long)&ev, (long)&id, 0);
  CHECK(r == 0, "%s: raw timer_create aimed at its own tid %d: %ld", when, gettid(), r);
  struct itimerspec in = {{0, 0}, {0, 5 * 1000 * 1000}};
  timer_fired = 0;
  CHECK(raw_call(SYS_timer_settime, id, 0, (long)&in, 0) == 0, "raw timer_settime");
  for (int i = 0; i < 500 && !timer_fired; i++) usleep(1000);
  CHECK(timer_fired, "%s: the raw timer aimed at this thread never fired", when);
  CHECK(raw_call(SYS_timer_delete, id, 0, 0, 0) == 0, "raw timer_delete");
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: raw_owner_calls DIR");
  signal(SIGIO, on_sigio);
  signal(SIGUSR2, on_timer);
  owner_calls("before");
  capability_calls("before");
  thread_timer("before");
  say_ready();
  wait_go(argv[1]);
  owner_calls("after");
  capability_calls("after");
  thread_timer("after");
  printf("PASS\n");
  return 0;
}
