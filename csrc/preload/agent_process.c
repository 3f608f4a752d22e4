/* The process's state that lives in the kernel, other than descriptors and memory: signal
 * dispositions, interval timers, umask and working directory. */
#include <signal.h>
#include <sys/time.h>

#include "agent.h"

void amber_process_capture(void) {
  for (int sig = 1; sig <= 64; sig++)
    amber_sys4(SYS_rt_sigaction, sig, 0, &amber_ckpt.sigactions[sig], 8);
  for (int which = 0; which < 3; which++)
    amber_sys2(SYS_getitimer, which, amber_ckpt.itimers[which]);
  long mask = amber_sys1(SYS_umask, 0);
  amber_sys1(SYS_umask, mask);
  amber_ckpt.umask = (uint32_t)mask;
  long n = amber_sys2(SYS_getcwd, amber_ckpt.cwd, sizeof amber_ckpt.cwd);
  if (n < 0) amber_ckpt.cwd[0] = 0;
}

void amber_process_after_restore(void) {
  for (int sig = 1; sig <= 64; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    amber_sys4(SYS_rt_sigaction, sig, &amber_ckpt.sigactions[sig], 0, 8);
  }
  for (int which = 0; which < 3; which++) {
    uint64_t *it = amber_ckpt.itimers[which];
    if (it[2] || it[3]) amber_sys3(SYS_setitimer, which, it, 0);
  }
  amber_sys1(SYS_umask, amber_ckpt.umask);
  if (amber_ckpt.cwd[0]) amber_sys1(SYS_chdir, amber_ckpt.cwd);
  /* The restored process is the row's process now. */
  struct amber_row *row = amber_row_by_vid(amber.table, AMBER_KIND_PID, amber.vpid);
  if (row) __atomic_store_n(&row->sid, amber_sys_getpid(), __ATOMIC_RELEASE);
}
