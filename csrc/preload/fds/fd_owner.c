/* A description's owner, who gets its SIGIO and SIGURG (fcntl F_SETOWN), and the signal it
 * gets (F_SETSIG): saved by virtual ID and set again on the re-created description with the
 * owner's new system ID. Runs in the agent: raw system calls, lock-free table reads. */
#include <fcntl.h>

#include "../agent/agent.h"
#include "fd_kinds.h"

int amber_fd_owner_capture(struct amber_fd_rec *rec) {
  struct f_owner_ex ex = {0, 0};
  long sig = amber_sys2(SYS_fcntl, rec->fd, F_GETSIG);
  rec->sigio_signal = sig > 0 ? (int32_t)sig : 0;
  if (amber_sys3(SYS_fcntl, rec->fd, F_GETOWN_EX, &ex) < 0 || ex.pid <= 0) return 0;
  int32_t v = amber_s2v(amber.table, AMBER_KIND_PID, ex.pid);
  if (v < 0 && rec->kind == AMBER_FD_STDIO) return 0; /* the launcher's, not the program's */
  int32_t target = ex.type == F_OWNER_PGRP ? -ex.pid : ex.pid;
  if (v < 0 && amber_sys2(SYS_kill, target, 0) == -ESRCH) return 0; /* gone: nobody to tell */
  if (v < 0) {
    amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
              "descriptor %d (%s) sends its SIGIO to process %d, which is outside the "
              "application: it cannot be named after a restore",
              rec->fd, rec->path, ex.pid);
    return -1;
  }
  rec->sigio_owner_type = ex.type;
  rec->sigio_owner_vid = v;
  return 0;
}

void amber_fd_owner_restore(const struct amber_fd_rec *rec) {
  if (rec->sigio_signal) amber_sys3(SYS_fcntl, rec->fd, F_SETSIG, rec->sigio_signal);
  if (!rec->sigio_owner_vid) return;
  struct f_owner_ex ex = {rec->sigio_owner_type, amber_v2s(amber.table, AMBER_KIND_PID,
                                                           rec->sigio_owner_vid)};
  if (ex.pid > 0) amber_sys3(SYS_fcntl, rec->fd, F_SETOWN_EX, &ex);
}
