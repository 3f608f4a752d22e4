/* What the coordinator's scan of a frozen application (ctl_share.c) also checks and saves. */
#ifndef AMBER_CTL_CLONE_SHARE_H
#define AMBER_CTL_CLONE_SHARE_H

#include <stdint.h>

struct amber_table;

/* Where to look at process pid: itself, or a live thread when its main thread is gone. */
int amber_live_task(int pid);

/* Processes sharing an address space, a descriptor table or a working directory: 0, or
 * -EOPNOTSUPP with buf naming both processes and what they share (ctl_clone_share.c). */
int32_t amber_ctl_clone_sharing_check(struct amber_table *t, char *buf, int32_t cap);

/* The application's named POSIX shared memory files that no process maps, into the image
 * (ctl_shm_files.c): 0, or -errno with buf naming the file. */
int32_t amber_ctl_shm_files_save(struct amber_table *t, const char *image_dir, char *buf,
                                 int32_t cap);

#endif
