/* File locks held at the snapshot, taken again after a restore (fd_locks.c). */
#ifndef AMBER_FD_LOCKS_H
#define AMBER_FD_LOCKS_H

#include "../agent/agent.h"

/* Once every process is frozen and agent_share.c has found each description's owner: the
 * locks of every saved descriptor. 0, or -1 with amber_ckpt.error naming a lock Amber cannot
 * take again exactly (a lease, say). */
int amber_locks_capture(void);
/* Once every descriptor is back and the broker's own copies of them are closed (closing one
 * would drop a POSIX lock): takes the locks again, then waits until every other restored
 * process has its own. 0, or -1 with amber_ckpt.error naming the lock someone else holds now;
 * `failed`, the restore's error so far, is returned as it is once the others are told. */
int amber_locks_after_restore(int failed);
/* What the process file records (agent_memory.c). */
const struct amber_lock_rec *amber_locks_saved(int32_t *count);

#endif
