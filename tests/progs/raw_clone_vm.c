/* A raw clone of a process that shares its parent's memory (CLONE_VM, on a stack of its own,
 * without CLONE_VFORK or CLONE_THREAD), made with the `syscall` instruction: the parent is told
 * the child's virtual pid, by which it signals and reaps it, and the child's raw and libc getpid
 * say that pid too (not its parent's, whose library state it shares). While the child lives,
 * a snapshot is refused by name (the test); once it is gone, the application snapshots and
 * restores.
 * Usage: raw_clone_vm <dir> */
#include <errno.h>
#include <linux/sched.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "raw_clone.h"
#include "wait_go.h"

static long rs(long n, long a, long b, long c) {
  long ret;
  register long r9 __asm__("r9") = 0x1234;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}

static char child_stack[65536] __attribute__((aligned(64)));
static volatile long raw_pid, libc_pid;

static __attribute__((noreturn, used)) void child_main(void) {
  libc_pid = getpid();
  raw_pid = rs(SYS_getpid, 0, 0, 0);
  for (;;) {
    struct timespec ts = {1, 0};
    rs(SYS_nanosleep, (long)&ts, 0, 0);
  }
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  setvbuf(stdout, NULL, _IOLBF, 0);
  pid_t self = getpid();
  long child = raw_clone(SIGCHLD | CLONE_VM, child_stack + sizeof child_stack, child_main);
  CHECK(child >= 4200000 && child != self, "raw clone with CLONE_VM returned %ld", child);
  for (int i = 0; i < 2000 && !raw_pid; i++) usleep(1000);
  CHECK(raw_pid == child && libc_pid == child,
        "the child's raw getpid says %ld, its libc getpid %ld, its parent was told %ld", raw_pid,
        libc_pid, child);
  CHECK(getpid() == self && rs(SYS_getpid, 0, 0, 0) == self, "the parent's own pid changed");
  CHECK(kill((pid_t)child, 0) == 0, "kill(%ld, 0): %s", child, strerror(errno));
  printf("shared\n");
  for (long tick = 0; !dir_has(argv[1], "unshare"); tick++) {
    printf("tick %ld\n", tick);
    usleep(20000);
  }
  int status = 0;
  CHECK(kill((pid_t)child, SIGKILL) == 0 && waitpid((pid_t)child, &status, 0) == child &&
            WIFSIGNALED(status),
        "the child %ld was not reaped by its virtual pid", child);
  say_ready();
  wait_go(argv[1]);
  CHECK(getpid() == self, "after the restore getpid is %d, not %d", getpid(), self);
  printf("PASS\n");
  return 0;
}
