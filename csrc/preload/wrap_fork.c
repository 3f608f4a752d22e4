/* fork, vfork and the exec family: a child takes its own virtual pid, an exec keeps Amber. */
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
