/* The owner of a descriptor, who gets its SIGIO and SIGURG (F_SETOWN, F_GETOWN, and their _EX
 * forms): a process, a thread or (negative, or F_OWNER_PGRP) a process group, all virtual. */
#include <fcntl.h>

#include "../core/amber.h"

int amber_fcntl_owner(int (*real)(int, int, ...), int fd, int cmd, void *arg) {
  int32_t s;
  int err = 0, r;
  amber_enter();
  switch (cmd) {
  case F_SETOWN:
    err = amber_pid_in((int32_t)(intptr_t)arg, &s);
    r = err ? -1 : real(fd, cmd, s);
    break;
  case F_SETOWN_EX: {
    struct f_owner_ex *ex = arg, copy;
    if (ex) {
      copy = *ex;
      err = amber_who_in(ex->pid, &copy.pid);
    }
    r = err ? -1 : real(fd, cmd, ex ? &copy : ex);
    break;
  }
  case F_GETOWN: { /* as glibc does it: a group comes back negative */
    struct f_owner_ex ex;
    r = real(fd, F_GETOWN_EX, &ex);
    if (r == 0) r = ex.type == F_OWNER_PGRP ? -amber_who_out(ex.pid) : amber_who_out(ex.pid);
    break;
  }
  default: { /* F_GETOWN_EX */
    struct f_owner_ex *ex = arg;
    r = real(fd, cmd, arg);
    if (r == 0 && ex) ex->pid = amber_who_out(ex->pid);
  }
  }
  amber_leave();
  if (err) errno = -err;
  return r;
}
