/* A raw execve from the program's own code (Go's os/exec), trapped by the seccomp layer: made as
 * the library's execve wrapper makes it (wrap_fork.c), with Amber's variables in the new
 * program's environment (Go passes its own copy of the environment, taken before the library set
 * AMBER_TABLE_FD: without it the new program would open the tables again, and the inherited
 * descriptor would look like one of the program's), and a statically linked program refused.
 * The environment is built in memory of its own, as the handler may run on a small stack. */
#include "../core/amber.h"

#define ENV_CAP 4096

long amber_trap_execve(const long a[6]) {
  const char *path = (const char *)a[0];
  if (amber_exec_refused(path, 0)) return -ENOEXEC;
  long bytes = ENV_CAP * (long)sizeof(char *);
  /* a vfork child's mapping would stay in its parent's memory after the exec */
  char *kept = amber_vfork_env_buffer(bytes);
  long m = kept ? (long)kept
                : amber_sys6(SYS_mmap, 0, bytes, 3, 0x22 /* MAP_PRIVATE|MAP_ANONYMOUS */, -1, 0);
  if (m < 0 && m > -4096) return m;
  char **envp = amber_env_with_amber((char *const *)a[2], (char **)m, ENV_CAP);
  uint64_t mask;
  amber_ckpt_hold(&mask);
  long r = amber_sys3(SYS_execve, path, a[1], envp); /* past the filter */
  amber_ckpt_release(&mask);
  if (!kept) amber_sys2(SYS_munmap, m, bytes);
  return r;
}
