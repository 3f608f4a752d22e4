/* Objects that several descriptions open again by themselves (a named FIFO, a message queue):
 * the object's creator (its first holder, agent_share.c) makes it in phase 1 as a "keeper"
 * description open for reading and writing and offers it through the broker; every description,
 * the creator's too, is then an open of the keeper with its own access mode. */
#include <fcntl.h>

#include "../agent/agent_share.h"
#include "fd_kinds.h"

int amber_fd_not_creator(const struct amber_fd_rec *rec) {
  if (!rec->creator_vpid) return 0; /* not listed: made here */
  return rec->creator_vpid != amber.vpid || rec->creator_fd != rec->fd;
}

int amber_fd_keeper_restore(struct amber_fd_rec *rec, int floor, uint64_t key,
                            int (*make)(const struct amber_fd_rec *rec)) {
  int keeper;
  if (amber_fd_not_creator(rec)) {
    keeper = amber_broker_get(key, 0);
  } else {
    keeper = make(rec);
    if (keeper >= 0) {
      keeper = amber_fd_park(keeper, floor);
      int err = amber_broker_put(key, 0, keeper);
      if (err) {
        amber_sys1(SYS_close, keeper);
        return err;
      }
    }
  }
  if (keeper < 0) return keeper;
  char self[64];
  amber_fmt(self, sizeof self, "/proc/thread-self/fd/%d", keeper);
  /* Non-blocking: a FIFO's write-only open would wait for a reader otherwise. */
  int fd = (int)amber_sys4(SYS_openat, AT_FDCWD, self,
                           (rec->flags & O_ACCMODE) | O_NONBLOCK | O_CLOEXEC, 0);
  amber_sys1(SYS_close, keeper);
  return amber_fd_place(amber_fd_park(fd, floor), rec); /* its own flags, O_NONBLOCK or not */
}
