/* A descriptor table shared with another process (clone with CLONE_FILES) is refused by the
 * coordinator (control/ctl_clone_share.c), but only once every process is frozen: by then each
 * agent has looked at its descriptors, and one sharing its table sees the other's passing ones
 * (a /proc file it reads), and would name those instead. So each agent first compares its table
 * with its parent's and its children's, the usual sharers, where kcmp(2) lets it. */
#include "agent.h"

#define KCMP_FILES 2

static int shares(int32_t pid) {
  return pid > 1 && amber_sys5(SYS_kcmp, amber_sys_getpid(), pid, KCMP_FILES, 0, 0) == 0;
}

static int refuse(int32_t pid) {
  amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
            "it shares one descriptor table with process %d (clone with CLONE_FILES), which "
            "Amber cannot keep yet",
            amber_s2v(amber.table, AMBER_KIND_PID, pid));
  return -1;
}

int amber_clone_share_capture(void) {
  static int32_t children[512];
  int32_t parent = (int32_t)amber_sys_getppid();
  if (shares(parent)) return refuse(parent);
  int n = amber_list_children(children, 512);
  for (int i = 0; i < n; i++)
    if (shares(children[i])) return refuse(children[i]);
  return 0;
}
