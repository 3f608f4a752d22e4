/* What the processes of an application share, found while all of them are frozen
 * (agent_share.c), and handed between them on restore through the broker (agent_broker.c). */
#ifndef AMBER_AGENT_SHARE_H
#define AMBER_AGENT_SHARE_H

#include "agent.h"

/* Fills owner_vpid/owner_fd and the pipe creator of every saved descriptor, and says which
 * connected Unix sockets have their peer in the application (AMBER_PEER_INSIDE). */
int amber_share_scan_fds(void); /* 0, or -1 with amber_ckpt.error */
/* The first process, in slot order, that maps the shared-memory object with this device
 * (major << 8 | minor, as in /proc/<pid>/maps) and inode. */
int32_t amber_share_region_owner(uint64_t dev, uint64_t ino);
/* Does any process of the application map the object with this inode shared? */
int amber_share_inode_mapped(uint64_t ino);
/* The system pid of a process of the application. */
int32_t amber_share_system_pid(int32_t vpid);
/* This process's own view of the tree, in virtual pids. */
void amber_share_tree(int32_t *ppid, int32_t *pgid, int32_t *sid);

int amber_broker_open(void);
int amber_broker_put(uint64_t k1, uint64_t k2, int fd); /* 0 or -errno; fd stays the caller's */
int amber_broker_get(uint64_t k1, uint64_t k2);         /* a new descriptor, or -errno */
void amber_broker_close(void);
void amber_broker_drop_local(void); /* this process's own copies; the broker still answers */

#endif
