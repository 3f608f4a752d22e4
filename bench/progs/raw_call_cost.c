/* Times raw system calls (the `syscall` instruction, as Go's runtime makes them) and a few libc
 * calls, for the seccomp layer's cost (bench/seccomp_cost.ts): read of one byte (a call the
 * filter does not watch below the signalfd window), a raw read of a signalfd (in the window:
 * trapped under the layer, its ssi_pid translated), kill(0, 0) (watched, but its pid is not virtual: allowed in the
 * kernel), getppid and kill(getpid(), 0) made raw (trapped: translated in the SIGSYS handler),
 * openat and close made raw (a path call from the program's code: trapped, its path read),
 * clock_gettime made raw on the monotonic clock (watched, passes in the kernel) and on the
 * process's CPU clock (trapped: its time is shifted after a restore), and
 * through libc getppid, open and close, kill and pthread_sigmask (Amber's own calls, past the
 * filter; the mask is set in the handler). Last, a raw sendmsg of a byte from a Go-shaped site,
 * without and with SCM_CREDENTIALS naming the caller (trapped under the layer: the credentials
 * are translated in a copy), a raw sendmsg and recvmsg of a byte and a raw
 * getuid, then the same once a raw SO_PASSCRED has stacked the layer's second filter (which
 * traps the program's sendmsg and recvmsg: SCM_CREDENTIALS). Run plain, it also times the
 * floors of a kernel-side layer (trap_floor.h): a bare SIGSYS round trip and a seccomp user
 * notification answered by a supervisor thread. Prints nanoseconds per call, median and minimum of R rounds. The raw calls'
 * sites are rewritten after their first trap (docs/seccomp.md, "Rewritten sites"); stub_getppid
 * is a site shaped like Go's runtime.getpid (mov $nr, %eax; syscall; ret). Run with the argument
 * "rewrite-off", it runs itself again with AMBER_SYSCALL_REWRITE=off: every trapped call traps. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 7
#define CALLS 20000

#include "per_call.h"
#include "trap_floor.h"

static long rs(long n, long a, long b, long c) {
  long ret;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return ret;
}

long stub_getppid(void);
__asm__(".text\n.p2align 5\nstub_getppid:\n\tmov $110, %eax\n\tsyscall\n\tret\n");

static int zero, sigfd;
static pid_t self;
static sigset_t none;
static void raw_read(void) {
  char c;
  if (rs(SYS_read, zero, (long)&c, 1) != 1) abort();
}
static void raw_read_signalfd(void) { /* nothing pending: EAGAIN; under the layer, trapped */
  char info[128];
  if (rs(SYS_read, sigfd, (long)info, sizeof info) != -EAGAIN) abort();
}
static void raw_kill_group(void) { rs(SYS_kill, 0, 0, 0); }
static void raw_getppid(void) { rs(SYS_getppid, 0, 0, 0); }
static void raw_kill(void) { rs(SYS_kill, self, 0, 0); } /* without the layer: ESRCH */
static void raw_open(void) { /* a path call from the program's code: trapped, read, passed */
  long fd = rs(SYS_openat, AT_FDCWD, (long)"/dev/null", O_RDONLY);
  if (fd < 0 || rs(SYS_close, fd, 0, 0)) abort();
}
static void raw_clock_mono(void) { /* passes: the filter looks at the clock */
  struct timespec ts;
  if (rs(SYS_clock_gettime, CLOCK_MONOTONIC, (long)&ts, 0)) abort();
}
static void raw_clock_cpu(void) { /* a CPU clock: trapped */
  struct timespec ts;
  if (rs(SYS_clock_gettime, CLOCK_PROCESS_CPUTIME_ID, (long)&ts, 0)) abort();
}
static int futex_word;
static void raw_futex_wake(void) { /* not a PI operation: passes after three more compares */
  if (rs(SYS_futex, (long)&futex_word, 1 | 128 /* FUTEX_WAKE_PRIVATE */, 1) != 0) abort();
}
static int pair[2]; /* a datagram socketpair */
static void raw_sendrecv(void) { /* a byte each way of sendmsg and recvmsg, no control data */
  char c = 'x';
  struct iovec iov = {&c, 1};
  struct msghdr m = {0};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  if (rs(SYS_sendmsg, pair[0], (long)&m, 0) != 1 || rs(SYS_recvmsg, pair[1], (long)&m, 0) != 1)
    abort();
}
static void raw_getuid(void) { rs(SYS_getuid, 0, 0, 0); } /* not watched by either filter */
static void libc_open(void) { /* from libc: passes in the kernel */
  int fd = open("/dev/null", O_RDONLY);
  if (fd < 0 || close(fd)) abort();
}
static void go_stub_getppid(void) { (void)stub_getppid(); }
/* sendmsg from a Go-shaped site (rewritten after its first trap), a byte without and with
 * SCM_CREDENTIALS naming the caller's pid (the virtual one under Amber: the layer traps every
 * sendmsg from the program's own code and translates it, in a copy), drained by libc's recv. */
long stub_sendmsg(long fd, const struct msghdr *m, long flags);
__asm__(".text\n.p2align 5\nstub_sendmsg:\n\tmov $46, %eax\n\tsyscall\n\tret\n");
static struct {
  char byte;
  struct iovec iov;
  struct msghdr plain, creds;
  union {
    char buf[CMSG_SPACE(sizeof(struct ucred))];
    struct cmsghdr align;
  } ctl;
} send_msgs;
static void make_send_msgs(void) {
  send_msgs.iov = (struct iovec){&send_msgs.byte, 1};
  send_msgs.plain.msg_iov = &send_msgs.iov;
  send_msgs.plain.msg_iovlen = 1;
  send_msgs.creds = send_msgs.plain;
  send_msgs.creds.msg_control = send_msgs.ctl.buf;
  send_msgs.creds.msg_controllen = sizeof send_msgs.ctl.buf;
  struct cmsghdr *h = CMSG_FIRSTHDR(&send_msgs.creds);
  h->cmsg_level = SOL_SOCKET;
  h->cmsg_type = SCM_CREDENTIALS;
  h->cmsg_len = CMSG_LEN(sizeof(struct ucred));
  struct ucred u = {getpid(), getuid(), getgid()};
  memcpy(CMSG_DATA(h), &u, sizeof u);
}
static void raw_sendmsg(void) { /* trapped under the layer, nothing to translate */
  char c;
  if (stub_sendmsg(pair[0], &send_msgs.plain, 0) != 1 || recv(pair[1], &c, 1, 0) != 1) abort();
}
static void raw_sendmsg_creds(void) { /* with the layer off: ESRCH, nothing to drain */
  char c;
  if (stub_sendmsg(pair[0], &send_msgs.creds, 0) == 1 && recv(pair[1], &c, 1, 0) != 1) abort();
}
static void libc_getppid(void) { (void)getppid(); }
static void libc_kill(void) { kill(self, 0); }
static void libc_sigmask(void) { pthread_sigmask(SIG_BLOCK, &none, NULL); }

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "rewrite-off") && !getenv("AMBER_SYSCALL_REWRITE")) {
    setenv("AMBER_SYSCALL_REWRITE", "off", 1);
    execv("/proc/self/exe", argv);
    return 1;
  }
  self = getpid();
  sigemptyset(&none);
  zero = open("/dev/zero", O_RDONLY);
  measure("raw_read", raw_read);
  sigset_t usr2;
  sigemptyset(&usr2);
  sigaddset(&usr2, SIGUSR2);
  sigprocmask(SIG_BLOCK, &usr2, NULL);
  sigfd = signalfd(-1, &usr2, SFD_NONBLOCK);
  measure("raw_read_signalfd", raw_read_signalfd);
  measure("raw_kill_group", raw_kill_group);
  measure("raw_getppid", raw_getppid);
  measure("stub_getppid", go_stub_getppid);
  measure("raw_kill", raw_kill);
  measure("raw_open", raw_open);
  measure("raw_clock_mono", raw_clock_mono);
  measure("raw_clock_cpu", raw_clock_cpu);
  measure("raw_futex_wake", raw_futex_wake);
  measure("libc_getppid", libc_getppid);
  measure("libc_open", libc_open);
  measure("libc_kill", libc_kill);
  measure("libc_sigmask", libc_sigmask);
  /* Last: SO_PASSCRED (raw) stacks the layer's second filter for the rest of the process, which
   * traps the program's sendmsg and recvmsg (their SCM_CREDENTIALS); every other call runs it. */
  measure("raw_getuid", raw_getuid);
  socketpair(AF_UNIX, SOCK_DGRAM, 0, pair);
  make_send_msgs();
  measure("raw_sendmsg", raw_sendmsg);
  measure("raw_sendmsg_creds", raw_sendmsg_creds);
  measure("raw_sendrecv", raw_sendrecv);
  int on = 1;
  register long r10 __asm__("r10") = (long)&on;
  register long r8 __asm__("r8") = sizeof on;
  long r;
  __asm__ volatile("syscall"
                   : "=a"(r)
                   : "a"(SYS_setsockopt), "D"(pair[1]), "S"(SOL_SOCKET), "d"(SO_PASSCRED),
                     "r"(r10), "r"(r8)
                   : "rcx", "r11", "memory");
  if (r) abort();
  measure("raw_sendrecv_creds", raw_sendrecv);
  measure("raw_getuid_creds", raw_getuid);
  /* The floors, run plain only (under Amber a program's own filter stacks on Amber's). */
  const char *preload = getenv("LD_PRELOAD");
  if (!preload || !strstr(preload, "amber")) {
    trap_floor("amber_filter");
    trap_floor("sigsys_empty");
    trap_floor("notify_answer");
    trap_floor("notify_continue");
  }
  return 0;
}
