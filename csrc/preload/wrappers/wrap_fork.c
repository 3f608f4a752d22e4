/* fork, vfork and the exec family: a child takes its own virtual pid, an exec keeps Amber. */
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../core/amber.h"

extern char **environ;
#define ENV_CAP 4096

/* For tests (tests/multiprocess_test.ts): a fork waits this long with the checkpoint signal
 * held off, so that another thread's checkpoint surely begins before the child is made. */
static long fork_delay_ms;

__attribute__((constructor)) static void fork_delay_wanted(void) {
  const char *v = getenv("AMBER_TEST_FORK_DELAY_MS");
  fork_delay_ms = v ? atol(v) : 0;
}

static void fork_test_delay(void) {
  struct timespec ts = {fork_delay_ms / 1000, fork_delay_ms % 1000 * 1000000};
  while (fork_delay_ms > 0 && amber_sys2(SYS_nanosleep, &ts, &ts) == -EINTR) {}
}

AMBER_EXPORT pid_t fork(void) {
  if (!amber_active()) return REAL(fork)();
  uint64_t mask;
  amber_ckpt_hold(&mask);
  fork_test_delay();
  pid_t child = REAL(fork)();
  if (child == 0) {
    amber_after_fork_child();
    amber_track_early(); /* its own userfaultfd: the parent's tracks the parent's memory */
    amber_ckpt_release(&mask);
    return 0;
  }
  int32_t v = child > 0 ? amber_pid_adopt(child, amber_sys_getpid(), AMBER_PID_PROCESS) : -1;
  amber_ckpt_release(&mask);
  return child < 0 ? child : v > 0 ? v : child;
}

/* vfork's child borrows the parent's stack until it execs, which no wrapper can return
 * through safely; like DMTCP, Amber gives it a real fork. */
AMBER_EXPORT pid_t vfork(void) { return fork(); }

/* clone(2) through glibc's wrapper, for a new process with its own memory: the child takes
 * its virtual pid before the program's function runs. (A child that shares the memory, as
 * vfork's does, must not write the parent's state: it registers when it execs.) */
struct clone_start {
  int (*fn)(void *);
  void *arg;
  uint64_t mask;
  int flags;
  pid_t *ctid;
};

static int clone_child(void *p) {
  struct clone_start start = *(struct clone_start *)p; /* the child's own copy of the frame */
  amber_clone_child((unsigned)start.flags, start.ctid);
  amber_ckpt_release(&start.mask);
  return start.fn(start.arg);
}

AMBER_EXPORT int clone(int (*fn)(void *), void *stack, int flags, void *arg, ...) {
  va_list ap;
  va_start(ap, arg);
  pid_t *ptid = va_arg(ap, pid_t *);
  void *tls = va_arg(ap, void *);
  pid_t *ctid = va_arg(ap, pid_t *);
  va_end(ap);
  int new_process = !(flags & (CLONE_VM | CLONE_THREAD));
  if (!amber_active() || !new_process) return REAL(clone)(fn, stack, flags, arg, ptid, tls, ctid);
  struct clone_start start = {fn, arg, 0, flags, ctid};
  amber_ckpt_hold(&start.mask);
  int child = REAL(clone)(clone_child, stack, flags, &start, ptid, tls, ctid);
  /* With CLONE_PIDFD, *ptid receives the pidfd. */
  int32_t v = child > 0 ? amber_clone_parent(child, (unsigned)flags, flags & CLONE_PIDFD ? 0 : ptid)
                        : -1;
  amber_ckpt_release(&start.mask);
  return child <= 0 ? child : v > 0 ? v : child;
}

AMBER_EXPORT int execve(const char *path, char *const argv[], char *const envp[]) {
  if (amber_exec_refused(path, 0)) return errno = ENOEXEC, -1;
  char *scratch[ENV_CAP];
  uint64_t mask;
  amber_ckpt_hold(&mask);
  int r = REAL(execve)(path, argv, amber_env_with_amber(envp, scratch, ENV_CAP));
  amber_ckpt_release(&mask);
  return r;
}

AMBER_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[]) {
  if (amber_exec_refused(file, 1)) return errno = ENOEXEC, -1;
  char *scratch[ENV_CAP];
  uint64_t mask;
  amber_ckpt_hold(&mask);
  int r = REAL(execvpe)(file, argv, amber_env_with_amber(envp, scratch, ENV_CAP));
  amber_ckpt_release(&mask);
  return r;
}

/* The exec calls that libc makes through its own execve, out of the wrappers' reach, go
 * through Amber's execve and execvpe instead. */
AMBER_EXPORT int execv(const char *path, char *const argv[]) { return execve(path, argv, environ); }
AMBER_EXPORT int execvp(const char *file, char *const argv[]) {
  return execvpe(file, argv, environ);
}

#define MAX_EXEC_ARGS 4096

/* execl's variadic arguments, up to the NULL, into argv; for execle, the pointer after it. */
static void collect_args(const char *first, va_list *ap, char **argv, char ***envp) {
  int n = 0;
  argv[n++] = (char *)first;
  while (n < MAX_EXEC_ARGS - 1 && (argv[n] = va_arg(*ap, char *))) n++;
  argv[n] = NULL;
  if (envp) *envp = va_arg(*ap, char **);
}

AMBER_EXPORT int execl(const char *path, const char *arg, ...) {
  char *argv[MAX_EXEC_ARGS];
  va_list ap;
  va_start(ap, arg);
  collect_args(arg, &ap, argv, NULL);
  va_end(ap);
  return execve(path, argv, environ);
}

AMBER_EXPORT int execlp(const char *file, const char *arg, ...) {
  char *argv[MAX_EXEC_ARGS];
  va_list ap;
  va_start(ap, arg);
  collect_args(arg, &ap, argv, NULL);
  va_end(ap);
  return execvpe(file, argv, environ);
}

AMBER_EXPORT int execle(const char *path, const char *arg, ...) {
  char *argv[MAX_EXEC_ARGS], **envp;
  va_list ap;
  va_start(ap, arg);
  collect_args(arg, &ap, argv, &envp);
  va_end(ap);
  return execve(path, argv, envp);
}

AMBER_EXPORT int fexecve(int fd, char *const argv[], char *const envp[]) {
  char *scratch[ENV_CAP];
  uint64_t mask;
  amber_ckpt_hold(&mask);
  int r = REAL(fexecve)(fd, argv, amber_env_with_amber(envp, scratch, ENV_CAP));
  amber_ckpt_release(&mask);
  return r;
}

static int spawned(int err, pid_t *pid) {
  if (err == 0 && pid && amber_active()) {
    int32_t v = amber_pid_adopt(*pid, amber_sys_getpid(), AMBER_PID_PROCESS);
    if (v > 0) *pid = v;
  }
  return err;
}

AMBER_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                             const posix_spawnattr_t *attr, char *const argv[],
                             char *const envp[]) {
  if (amber_exec_refused(path, 0)) return ENOEXEC;
  char *scratch[ENV_CAP];
  pid_t spid;
  uint64_t mask;
  amber_ckpt_hold(&mask);
  int err = REAL(posix_spawn)(&spid, path, fa, attr, argv,
                              amber_env_with_amber(envp, scratch, ENV_CAP));
  amber_ckpt_release(&mask);
  if (pid) *pid = spid;
  return spawned(err, pid);
}

AMBER_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                              const posix_spawnattr_t *attr, char *const argv[],
                              char *const envp[]) {
  if (amber_exec_refused(file, 1)) return ENOEXEC;
  char *scratch[ENV_CAP];
  pid_t spid;
  uint64_t mask;
  amber_ckpt_hold(&mask);
  int err = REAL(posix_spawnp)(&spid, file, fa, attr, argv,
                               amber_env_with_amber(envp, scratch, ENV_CAP));
  amber_ckpt_release(&mask);
  if (pid) *pid = spid;
  return spawned(err, pid);
}

/* daemon(3) as glibc does it, but through Amber's fork and setsid: glibc's own fork would give
 * the daemon no virtual pid of its own (it would go on as its parent's), and it would leave
 * its application. */
AMBER_EXPORT int daemon(int nochdir, int noclose) {
  if (!amber_active()) return REAL(daemon)(nochdir, noclose);
  pid_t child = fork();
  if (child < 0) return -1;
  if (child > 0) _exit(0);
  if (setsid() < 0) return -1;
  if (!nochdir) (void)chdir("/");
  if (noclose) return 0;
  int fd = open("/dev/null", O_RDWR);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3)) {
    if (fd >= 0) close(fd);
    return -1;
  }
  for (int std = 0; std < 3; std++) dup2(fd, std);
  if (fd > 2) close(fd);
  return 0;
}

/* libc starts these children itself, with `environ`: for the call, `environ` is one with
 * Amber's variables as they are now (after a restore under a longer name, the program's own
 * copy still names the old application: agent.c). They inherit the mask, so the signal is held
 * for them until their library is ready. */
AMBER_EXPORT int system(const char *command) {
  char *scratch[ENV_CAP];
  char **own = environ;
  uint64_t mask;
  amber_ckpt_hold(&mask);
  environ = amber_env_with_amber(own, scratch, ENV_CAP);
  int r = REAL(system)(command);
  if (environ == scratch) environ = own; /* unless the call changed it (another thread) */
  amber_ckpt_release(&mask);
  return r;
}

AMBER_EXPORT FILE *popen(const char *command, const char *type) {
  char *scratch[ENV_CAP];
  char **own = environ;
  uint64_t mask;
  amber_ckpt_hold(&mask);
  environ = amber_env_with_amber(own, scratch, ENV_CAP);
  FILE *f = REAL(popen)(command, type);
  if (environ == scratch) environ = own;
  amber_ckpt_release(&mask);
  return f;
}
