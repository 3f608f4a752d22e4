/* New processes and the other calls the seccomp layer translates beyond the plain pid
 * arguments, made with the `syscall` instruction itself (as Go's runtime or assembly make them):
 * raw fork, vfork, clone (also on a stack of its own, with CLONE_VM | CLONE_VFORK as Go's fork
 * for exec, with CLONE_PARENT_SETTID, CLONE_CHILD_SETTID, CLONE_PIDFD) and clone3 give the
 * parent the child's virtual pid and the child its own; a vfork child shares its parent's
 * memory, which waits for it; rt_sigtimedwait's si_pid names the
 * sender by virtual pid; calls of six arguments (process_vm_readv/writev, move_pages) act on the
 * process named; /proc/<virtual pid>/... paths given to raw open, stat, readlink, access...
 * reach it. Before a snapshot and after the restore (new system pids), twice.
 * Usage: raw_clone_calls <dir> */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "raw_clone.h"
#include "wait_go.h"

/* A raw call: r9, the sixth argument, is given (0x1234 where the call has five or fewer). */
static long rs6(long n, long a, long b, long c, long d, long e, long f) {
  long ret;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}
#define rs(n, a, b, c, d, e) rs6((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0x1234)

static pid_t self, child;
static volatile long marker = 111; /* the child keeps 111; this process changes it */
static volatile long shared_word;   /* written by vfork children */

/* In a new child: 0 when its raw getpid is its virtual pid and its raw getppid this process. */
static int child_ids_ok(void) {
  long pid = rs(SYS_getpid, 0, 0, 0, 0, 0);
  return pid >= 4200000 && pid == getpid() && pid != self &&
                 rs(SYS_getppid, 0, 0, 0, 0, 0) == self
             ? 0
             : 1;
}

/* The parent side: a virtual pid that names the child, which exits 0. */
static void reaped(const char *phase, const char *what, long pid) {
  CHECK(pid >= 4200000 && pid != self, "%s: raw %s returned %ld, not a virtual pid", phase, what,
        pid);
  int status = 0;
  CHECK(waitpid((pid_t)pid, &status, 0) == pid, "%s: %s: waitpid(%ld): %s", phase, what, pid,
        strerror(errno));
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: %s: the child saw wrong ids (%#x)",
        phase, what, status);
}

static char child_stack[65536] __attribute__((aligned(64)));

/* The child of a clone on child_stack: it must run there. */
static __attribute__((noreturn, used)) void on_child_stack(void) {
  char here;
  int on = &here > child_stack && &here < child_stack + sizeof child_stack;
  rs(SYS_exit_group, on ? child_ids_ok() : 2, 0, 0, 0, 0);
  __builtin_unreachable();
}

static void *thread_main(void *arg) { return arg; }

static void new_processes(const char *phase) {
  long r = rs(SYS_fork, 0, 0, 0, 0, 0);
  if (r == 0) _exit(child_ids_ok());
  reaped(phase, "fork", r);

  /* A vfork child shares the memory, and its parent waits for it: what it writes before it
   * ends (its own pid, after a pause) is there when the parent goes on. */
  struct timespec pause_a_little = {0, 20 * 1000 * 1000};
  shared_word = 0;
  r = rs(SYS_vfork, 0, 0, 0, 0, 0);
  if (r == 0) {
    rs(SYS_nanosleep, &pause_a_little, 0, 0, 0, 0);
    shared_word = rs(SYS_getpid, 0, 0, 0, 0, 0);
    _exit(child_ids_ok());
  }
  CHECK(shared_word == r, "%s: after a raw vfork the parent reads %ld, its child wrote %ld", phase,
        shared_word, r);
  reaped(phase, "vfork", r);

  /* Go's fork for exec: CLONE_VM | CLONE_VFORK on the caller's stack. */
  shared_word = 0;
  r = rs(SYS_clone, SIGCHLD | CLONE_VM | CLONE_VFORK, 0, 0, 0, 0);
  if (r == 0) {
    rs(SYS_nanosleep, &pause_a_little, 0, 0, 0, 0);
    shared_word = getpid();
    rs(SYS_exit_group, child_ids_ok(), 0, 0, 0, 0);
  }
  CHECK(shared_word == r, "%s: after a raw clone with CLONE_VM | CLONE_VFORK the parent reads %ld",
        phase, shared_word);
  reaped(phase, "clone with CLONE_VM | CLONE_VFORK", r);

  /* ... that execs a program (which tells its own pid through its status: none here, so it
   * checks it was exec'd with a virtual pid by exiting 0 from `true`). */
  r = rs(SYS_vfork, 0, 0, 0, 0, 0);
  if (r == 0) {
    char *argv[] = {"true", NULL}, *envp[] = {NULL};
    rs(SYS_execve, "/bin/true", argv, envp, 0, 0);
    _exit(3);
  }
  reaped(phase, "vfork and exec", r);

  pid_t ptid = 0, ctid = 0;
  r = rs(SYS_clone, SIGCHLD | CLONE_PARENT_SETTID | CLONE_CHILD_SETTID, 0, &ptid, &ctid, 0);
  if (r == 0) _exit(child_ids_ok() || ctid != getpid() ? 1 : 0);
  CHECK(ptid == r, "%s: CLONE_PARENT_SETTID wrote %d, the call returned %ld", phase, ptid, r);
  reaped(phase, "clone", r);

  reaped(phase, "clone on a stack of its own",
         raw_clone(SIGCHLD, child_stack + sizeof child_stack, on_child_stack));

  int pidfd = -1;
  r = rs(SYS_clone, SIGCHLD | CLONE_PIDFD, 0, &pidfd, 0, 0);
  if (r == 0) _exit(child_ids_ok());
  CHECK(pidfd >= 0 && rs(SYS_pidfd_send_signal, pidfd, 0, 0, 0, 0) == 0,
        "%s: CLONE_PIDFD gave %d", phase, pidfd);
  reaped(phase, "clone with CLONE_PIDFD", r);
  close(pidfd);

  struct clone_args ca;
  memset(&ca, 0, sizeof ca);
  pidfd = -1;
  ptid = 0;
  ca.flags = CLONE_PIDFD | CLONE_PARENT_SETTID;
  ca.pidfd = (uintptr_t)&pidfd;
  ca.parent_tid = (uintptr_t)&ptid;
  ca.exit_signal = SIGCHLD;
  r = rs(SYS_clone3, &ca, sizeof ca, 0, 0, 0);
  if (r == 0) _exit(child_ids_ok());
  CHECK(ptid == r && pidfd >= 0, "%s: clone3 wrote tid %d and pidfd %d", phase, ptid, pidfd);
  reaped(phase, "clone3", r);
  close(pidfd);

  /* A thread through clone3 cannot return through the handler: ENOSYS, and glibc's
   * pthread_create falls back to clone. */
  memset(&ca, 0, sizeof ca);
  ca.flags = CLONE_VM | CLONE_THREAD | CLONE_SIGHAND;
  CHECK(rs(SYS_clone3, &ca, sizeof ca, 0, 0, 0) == -ENOSYS, "%s: clone3 of a thread", phase);
  pthread_t t;
  CHECK(pthread_create(&t, NULL, thread_main, NULL) == 0 && pthread_join(t, NULL) == 0,
        "%s: pthread_create", phase);
}

static void sender_info(const char *phase) {
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  sigprocmask(SIG_BLOCK, &set, &old);
  pid_t sender = fork();
  if (sender == 0) _exit(kill(getppid(), SIGUSR2) ? 1 : 0);
  siginfo_t info;
  memset(&info, 0, sizeof info);
  struct timespec limit = {10, 0};
  long r = rs(SYS_rt_sigtimedwait, &set, &info, &limit, 8, 0);
  CHECK(r == SIGUSR2 && info.si_pid == sender, "%s: raw rt_sigtimedwait %ld: si_pid %d, not %d",
        phase, r, info.si_pid, sender);
  reaped(phase, "fork (the sender)", sender);
  sigprocmask(SIG_SETMASK, &old, NULL);
}

static void six_arguments(const char *phase) {
  long got = 0;
  struct iovec local = {&got, sizeof got}, remote = {(void *)&marker, sizeof marker};
  long r = rs6(SYS_process_vm_readv, child, (long)&local, 1, (long)&remote, 1, 0);
  CHECK(r == sizeof got && got == 111, "%s: raw process_vm_readv %ld read %ld", phase, r, got);
  long put = 444;
  local.iov_base = &put;
  r = rs6(SYS_process_vm_writev, child, (long)&local, 1, (long)&remote, 1, 0);
  CHECK(r == sizeof put, "%s: raw process_vm_writev %ld", phase, r);
  local.iov_base = &got;
  r = rs6(SYS_process_vm_readv, child, (long)&local, 1, (long)&remote, 1, 0);
  CHECK(r == sizeof got && got == 444, "%s: the child's value is %ld after the write", phase, got);
  put = 111;
  local.iov_base = &put;
  CHECK(rs6(SYS_process_vm_writev, child, (long)&local, 1, (long)&remote, 1, 0) == sizeof put,
        "%s: put back", phase);
  CHECK(rs6(SYS_move_pages, child, 0, 0, 0, 0, 0) == 0, "%s: raw move_pages", phase);
  CHECK(rs6(SYS_process_vm_readv, child + 100000, (long)&local, 1, (long)&remote, 1, 0) == -ESRCH,
        "%s: an unknown virtual pid", phase);
}

/* /proc/<child's virtual pid>/... reaches the child: the same files as its /proc/<system pid>. */
static void proc_paths(const char *phase) {
  char path[64], link[256], own[256];
  snprintf(path, sizeof path, "/proc/%d/exe", child);
  long n = rs(SYS_readlink, path, link, sizeof link - 1, 0, 0);
  long m = readlink("/proc/self/exe", own, sizeof own - 1);
  CHECK(n > 0 && n == m && !memcmp(link, own, (size_t)n), "%s: raw readlink %s: %ld", phase, path,
        n);
  CHECK(rs(SYS_readlinkat, AT_FDCWD, path, link, sizeof link - 1, 0) == n, "%s: readlinkat", phase);
  snprintf(path, sizeof path, "/proc/%d/stat", child);
  long fd = rs(SYS_openat, AT_FDCWD, path, O_RDONLY, 0, 0);
  CHECK(fd >= 0, "%s: raw openat %s: %ld", phase, path, fd);
  char text[512] = {0};
  CHECK(read((int)fd, text, sizeof text - 1) > 0 && atoi(text) == child,
        "%s: %s begins '%.20s'", phase, path, text);
  close((int)fd);
  fd = rs(SYS_open, path, O_RDONLY, 0, 0, 0);
  CHECK(fd >= 0, "%s: raw open %s: %ld", phase, path, fd);
  close((int)fd);
  snprintf(path, sizeof path, "/proc/%d", child);
  struct stat st;
  CHECK(rs(SYS_stat, path, &st, 0, 0, 0) == 0 && S_ISDIR(st.st_mode), "%s: raw stat", phase);
  CHECK(rs(SYS_lstat, path, &st, 0, 0, 0) == 0, "%s: raw lstat", phase);
  CHECK(rs(SYS_newfstatat, AT_FDCWD, path, &st, 0, 0) == 0, "%s: raw newfstatat", phase);
  struct statx stx;
  CHECK(rs(SYS_statx, AT_FDCWD, path, 0, STATX_BASIC_STATS, &stx) == 0, "%s: statx", phase);
  CHECK(rs(SYS_access, path, F_OK, 0, 0, 0) == 0, "%s: raw access", phase);
  CHECK(rs(SYS_faccessat, AT_FDCWD, path, F_OK, 0, 0) == 0, "%s: raw faccessat", phase);
  snprintf(path, sizeof path, "/proc/%d", child + 100000);
  CHECK(rs(SYS_stat, path, &st, 0, 0, 0) == -ENOENT, "%s: an unknown virtual pid's", phase);
}

static void checks(const char *phase) {
  self = getpid();
  CHECK(marker == 222, "%s: marker", phase);
  new_processes(phase);
  sender_info(phase);
  six_arguments(phase);
  proc_paths(phase);
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  setvbuf(stdout, NULL, _IOLBF, 0);
  child = fork();
  if (child == 0) {
    for (;;) pause();
  }
  marker = 222;
  checks("before");
  say_ready();
  wait_go(argv[1]);
  checks("after");
  kill(child, SIGKILL);
  waitpid(child, NULL, 0);
  printf("PASS\n");
  return 0;
}
