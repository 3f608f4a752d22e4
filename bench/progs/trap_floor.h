/* The floors a kernel-side layer cannot go below, for bench/seccomp_cost.ts: each in a child of
 * its own (a filter cannot be taken off), which installs a one-call filter on getppid and times
 * it. "sigsys_empty": SECCOMP_RET_TRAP to a handler that only writes the result into the frame
 * (the SIGSYS round trip Amber's handler adds to). "notify_answer" and "notify_continue":
 * SECCOMP_RET_USER_NOTIF answered by a supervisor thread (SECCOMP_IOCTL_NOTIF_RECV, then SEND
 * with a value, as a translation would, or with SECCOMP_USER_NOTIF_FLAG_CONTINUE); the thread
 * is made before the filter, which covers only the calling thread, so it is not filtered.
 * "amber_filter": Amber's own filter alone (seccomp_filter.h), on a call it does not watch
 * (getuid, the whole chain of compares) and on a raw read below the signalfd window (the first
 * call it looks at: the number, the magic, the descriptor). */
#ifndef AMBER_BENCH_TRAP_FLOOR_H
#define AMBER_BENCH_TRAP_FLOOR_H

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <ucontext.h>

#include "../../csrc/common/seccomp_filter.h"

static long floor_getppid(void) {
  long ret;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(SYS_getppid) : "rcx", "r11", "memory");
  return ret;
}

static void floor_call(void) {
  if (floor_getppid() != 4242) abort();
}

static void floor_sigsys(int sig, siginfo_t *info, void *uc) {
  ((ucontext_t *)uc)->uc_mcontext.gregs[REG_RAX] = 4242;
}

static int floor_filter(unsigned ret, unsigned flags) {
  struct sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, ret),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {4, code};
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                      flags | SECCOMP_FILTER_FLAG_SPEC_ALLOW, &prog);
}

static void floor_getuid(void) {
  long ret;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(SYS_getuid) : "rcx", "r11", "memory");
}

static int floor_zero = -1; /* /dev/zero: a read below the signalfd window, which passes */

static void floor_read(void) {
  long ret;
  char c;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(SYS_read), "D"((long)floor_zero), "S"(&c), "d"(1L)
                   : "rcx", "r11", "memory");
  if (ret != 1) abort();
}

static int floor_listener = -1, floor_continue;

static void *floor_supervisor(void *arg) {
  while (__atomic_load_n(&floor_listener, __ATOMIC_ACQUIRE) < 0) sched_yield();
  struct seccomp_notif req;
  struct seccomp_notif_resp resp;
  for (;;) {
    memset(&req, 0, sizeof req);
    if (ioctl(floor_listener, SECCOMP_IOCTL_NOTIF_RECV, &req)) return NULL;
    memset(&resp, 0, sizeof resp);
    resp.id = req.id;
    if (floor_continue) resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    else resp.val = 4242;
    if (ioctl(floor_listener, SECCOMP_IOCTL_NOTIF_SEND, &resp)) return NULL;
  }
}

static pid_t floor_parent; /* read before the filter, which would trap getppid() too */

static void floor_continue_call(void) {
  if (floor_getppid() != floor_parent) abort();
}

/* Runs one floor in a child and waits for its line. */
static void trap_floor(const char *name) {
  fflush(stdout);
  pid_t child = fork();
  if (child == 0) {
    if (!strcmp(name, "amber_filter")) { /* a call it does not watch, before and after */
      floor_zero = open("/dev/zero", O_RDONLY);
      measure("getuid_plain", floor_getuid);
      measure("read_plain", floor_read);
      prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
      if (amber_seccomp_install(0)) _exit(1);
      measure("getuid_amber_filter", floor_getuid);
      measure("read_amber_filter", floor_read);
    } else if (!strcmp(name, "sigsys_empty")) {
      struct sigaction sa;
      memset(&sa, 0, sizeof sa);
      sa.sa_sigaction = floor_sigsys;
      sa.sa_flags = SA_SIGINFO | SA_NODEFER;
      sigaction(SIGSYS, &sa, NULL);
      if (floor_filter(SECCOMP_RET_TRAP, 0)) _exit(1);
      measure(name, floor_call);
    } else {
      floor_continue = !strcmp(name, "notify_continue");
      floor_parent = getppid();
      pthread_t t;
      pthread_create(&t, NULL, floor_supervisor, NULL);
      int fd = floor_filter(SECCOMP_RET_USER_NOTIF, SECCOMP_FILTER_FLAG_NEW_LISTENER);
      if (fd < 0) _exit(1);
      __atomic_store_n(&floor_listener, fd, __ATOMIC_RELEASE);
      measure(name, floor_continue ? floor_continue_call : floor_call);
    }
    fflush(stdout);
    _exit(0);
  }
  waitpid(child, NULL, 0);
}

#endif
