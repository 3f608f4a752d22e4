/* Registration: when the library is loaded into a process of an application (AMBER_APP_DIR in
 * its environment), it maps the application's tables and takes its virtual pid before the
 * program's first instruction. Without AMBER_APP_DIR the library stays inert. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h" /* amber_fmt */
#include "amber.h"
#include "../wrappers/cpu_clock.h"

struct amber_state amber;
__thread int amber_cs_depth;
__thread volatile int amber_ckpt_deferred;
__thread int32_t amber_vtid;

/* Called from the agent too (a signal handler, every thread stopped): no stdio, no malloc. */
void amber_log(const char *fmt, ...) {
  char line[512];
  int n = amber_fmt(line, sizeof line, "[%d] ", amber.vpid);
  va_list ap;
  va_start(ap, fmt);
  n += amber_vfmt(line + n, sizeof line - n - 1, fmt, ap);
  va_end(ap);
  if (n > (int)sizeof line - 2) n = sizeof line - 2;
  line[n++] = '\n';
  char path[600];
  amber_fmt(path, sizeof path, "%s/log", amber.app_dir);
  int fd = (int)amber_sys4(SYS_openat, AT_FDCWD, path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
                           0600);
  if (fd < 0) return;
  amber_sys3(SYS_write, fd, line, n);
  amber_sys1(SYS_close, fd);
}

static void remember_library_path(void) {
  /* The exec wrappers put this exact path back into LD_PRELOAD. */
  const char *env = getenv("AMBER_LIB");
  if (env) snprintf(amber.lib_path, sizeof amber.lib_path, "%s", env);
}

__attribute__((constructor)) static void amber_init(void) {
  amber_resolve_real();
  amber_seccomp_early();
  const char *dir = getenv("AMBER_APP_DIR");
  if (!dir || !*dir) return;
  snprintf(amber.app_dir, sizeof amber.app_dir, "%s", dir);
  remember_library_path();

  char path[600];
  snprintf(path, sizeof path, "%s/tables", dir);
  int err = 0;
  struct amber_table *table = amber_table_fd_open(path, &err);
  if (!table) {
    amber_log("cannot open the translation tables %s: %s", path, strerror(-err));
    return;
  }
  amber.table = table;
  amber.vpid = amber_pid_adopt(amber_sys_getpid(), amber_sys_getppid(), AMBER_PID_PROCESS);
  if (amber.vpid < 0) {
    amber_log("the process table is full; running without virtual IDs");
    amber.table = NULL;
    amber_table_close(table);
    return;
  }
  amber_vtid = amber.vpid;
  amber_process_cpu_inherit(); /* an exec keeps the process's CPU time, and so its shift */
  amber_seccomp_start();
  amber_agent_install();
  amber_track_early(); /* agent_track.c: a pre-copy needs its userfaultfd */
  amber_ckpt_unhold(); /* held since the exec that started this program (wrap_fork.c) */
}
