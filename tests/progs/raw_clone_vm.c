/* A raw clone of a process that shares its parent's memory (CLONE_VM, on a stack of its own,
 * without CLONE_VFORK or CLONE_THREAD), made with the `syscall` instruction: the parent is told
 * the child's virtual pid, by which it signals and reaps it, and the child's raw and libc getpid
 * say that pid too (not its parent's, whose library state it shares). While the child lives,
 * a snapshot is refused by name (the test); once it is gone, the application snapshots and
 * restores. A thread made by a raw clone with CLONE_THREAD (no TLS of its own: it shares its
 * creator's) gets a virtual tid, which its raw and libc gettid say, and runs on after restores.
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
static char thread_stack[65536] __attribute__((aligned(64)));
static volatile long raw_pid, libc_pid, thread_raw_tid, thread_libc_tid, thread_turns;

static __attribute__((noreturn, used)) void thread_main(void) {
  for (;;) {
    thread_libc_tid = gettid();
    thread_raw_tid = rs(SYS_gettid, 0, 0, 0);
    thread_turns++;
    struct timespec ts = {0, 5 * 1000 * 1000};
    rs(SYS_nanosleep, (long)&ts, 0, 0);
  }
}

static __attribute__((noreturn, used)) void child_main(void) {
  libc_pid = getpid();
  raw_pid = rs(SYS_getpid, 0, 0, 0);
  for (;;) {
    struct timespec ts = {1, 0};
    rs(SYS_nanosleep, (long)&ts, 0, 0);
  }
}

/* The raw thread names itself by the tid its creator was told, and goes on. */
static void thread_ok(const char *phase, long tid) {
  long turns = thread_turns;
  for (int i = 0; i < 2000 && thread_turns < turns + 2; i++) usleep(1000);
  CHECK(thread_turns >= turns + 2, "%s: the raw thread stopped at %ld turns", phase, turns);
  CHECK(thread_raw_tid == tid && thread_libc_tid == tid,
        "%s: the raw thread's raw gettid says %ld, its libc gettid %ld, its creator was told %ld",
        phase, thread_raw_tid, thread_libc_tid, tid);
}

static int exists(const char *dir, const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return access(path, F_OK) == 0;
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  setvbuf(stdout, NULL, _IOLBF, 0);
  pid_t self = getpid();
  long thread = raw_clone(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
                              CLONE_SYSVSEM,
                          thread_stack + sizeof thread_stack, thread_main);
  CHECK(thread >= 4200000 && thread != self, "raw clone with CLONE_THREAD returned %ld", thread);
  thread_ok("before", thread);
  CHECK(gettid() == self, "the main thread's gettid is %d", gettid());
  long child = raw_clone(SIGCHLD | CLONE_VM, child_stack + sizeof child_stack, child_main);
  CHECK(child >= 4200000 && child != self, "raw clone with CLONE_VM returned %ld", child);
  for (int i = 0; i < 2000 && !raw_pid; i++) usleep(1000);
  CHECK(raw_pid == child && libc_pid == child,
        "the child's raw getpid says %ld, its libc getpid %ld, its parent was told %ld", raw_pid,
        libc_pid, child);
  CHECK(getpid() == self && rs(SYS_getpid, 0, 0, 0) == self, "the parent's own pid changed");
  CHECK(kill((pid_t)child, 0) == 0, "kill(%ld, 0): %s", child, strerror(errno));
  printf("shared\n");
  for (long tick = 0; !exists(argv[1], "unshare"); tick++) {
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
  CHECK(gettid() == self, "after the restore the main thread's gettid is %d", gettid());
  thread_ok("after", thread);
  printf("PASS\n");
  return 0;
}
