/* What the coordinator's scan of a frozen application (ctl_share.c) also checks. */
#ifndef AMBER_CTL_CLONE_SHARE_H
#define AMBER_CTL_CLONE_SHARE_H

#include <stdint.h>

struct amber_table;

/* Where to look at process pid: itself, or a live thread when its main thread is gone. */
int amber_live_task(int pid);

/* Processes sharing an address space, a descriptor table or a working directory: 0, or
 * -EOPNOTSUPP with buf naming both processes and what they share (ctl_clone_share.c). */
int32_t amber_ctl_clone_sharing_check(struct amber_table *t, char *buf, int32_t cap);

#endif
