/* What fcntl says of file locks: the kernel names a lock's holder by system pid (F_GETLK's
 * l_pid); the program must see the virtual one (/proc/locks is made so in proc_files.c). A
 * holder outside the application shows as 0, as the kernel shows one outside a pid namespace;
 * an OFD lock's -1 stays -1. */
#include <fcntl.h>
#include <string.h>

#include "../core/amber.h"
#include "../core/util.h"
#include "lock_view.h"

static int32_t virtual_holder(long pid) {
  if (pid <= 0) return (int32_t)pid;
  int32_t v = amber_pid_s2v((int32_t)pid);
  return v > 0 ? v : 0;
}

int amber_lock_query_result(int r, int cmd, void *arg) {
  if (r != 0 || (cmd != F_GETLK && cmd != F_OFD_GETLK) || !arg || !amber_active()) return r;
  struct flock *fl = arg;
  if (fl->l_type != F_UNLCK) fl->l_pid = virtual_holder(fl->l_pid);
  return r;
}
