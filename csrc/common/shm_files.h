/* The image's file of named POSIX shared memory objects that no process mapped at the snapshot
 * (control/ctl_shm_files.c writes it, restorer/shm_files.c reads it). */
#ifndef AMBER_SHM_FILES_H
#define AMBER_SHM_FILES_H

#include <stdint.h>

#define AMBER_SHM_FILES "shm-files.bin"
#define AMBER_SHM_FILES_MAGIC 0x314d485352424d41ULL /* "AMBRSHM1" */
#define AMBER_SHM_DIR "/dev/shm/"

struct amber_shm_file_rec {
  char name[256]; /* in /dev/shm, one path component; empty in the trailer */
  uint32_t mode, uid, gid, pad;
  int64_t size, mtime_ns; /* the trailer's size: how many records */
};

#endif
