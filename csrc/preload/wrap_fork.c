/* fork, vfork and the exec family: a child takes its own virtual pid, an exec keeps Amber. */
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "amber.h"

extern char **environ;
#define ENV_CAP 4096

AMBER_EXPORT pid_t fork(void) {
  pid_t child = REAL(fork)();
  if (!amber_active() || child < 0) return child;
  if (child == 0) {
    amber_after_fork_child();
    return 0;
  }
  int32_t v = amber_pid_adopt(child, amber_sys_getpid(), AMBER_PID_PROCESS);
  return v > 0 ? v : child;
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
};

static int clone_child(void *p) {
  struct clone_start start = *(struct clone_start *)p; /* the child's own copy of the frame */
  amber_after_fork_child();
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
  struct clone_start start = {fn, arg};
  int child = REAL(clone)(clone_child, stack, flags, &start, ptid, tls, ctid);
  if (child <= 0) return child;
  int32_t v = amber_pid_adopt(child, amber_sys_getpid(), AMBER_PID_PROCESS);
  return v > 0 ? v : child;
}

AMBER_EXPORT int execve(const char *path, char *const argv[], char *const envp[]) {
  char *scratch[ENV_CAP];
  return REAL(execve)(path, argv, amber_env_with_amber(envp, scratch, ENV_CAP));
}

AMBER_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[]) {
  char *scratch[ENV_CAP];
  return REAL(execvpe)(file, argv, amber_env_with_amber(envp, scratch, ENV_CAP));
}

AMBER_EXPORT int fexecve(int fd, char *const argv[], char *const envp[]) {
  char *scratch[ENV_CAP];
  return REAL(fexecve)(fd, argv, amber_env_with_amber(envp, scratch, ENV_CAP));
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
  char *scratch[ENV_CAP];
  pid_t spid;
  int err = REAL(posix_spawn)(&spid, path, fa, attr, argv,
                              amber_env_with_amber(envp, scratch, ENV_CAP));
  if (pid) *pid = spid;
  return spawned(err, pid);
}

AMBER_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                              const posix_spawnattr_t *attr, char *const argv[],
                              char *const envp[]) {
  char *scratch[ENV_CAP];
  pid_t spid;
  int err = REAL(posix_spawnp)(&spid, file, fa, attr, argv,
                               amber_env_with_amber(envp, scratch, ENV_CAP));
  if (pid) *pid = spid;
  return spawned(err, pid);
}
