/* credentials.bin in an image: who each process was at the snapshot, as the coordinator saw it
 * from outside (/proc/<pid>/status and limits), not as the process's memory says. The restorer
 * gives each process these credentials and limits before any byte of the image runs, so a
 * process cannot come back with more than it had, whatever it wrote into its own memory. Written
 * by src/credentials.ts (same layout, little-endian), one record per process. */
#ifndef AMBER_CREDENTIALS_H
#define AMBER_CREDENTIALS_H

#include <stdint.h>

#define AMBER_CREDS_FILE "credentials.bin"
#define AMBER_CREDS_GROUPS 64
#define AMBER_CREDS_LIMITS 16

struct amber_creds_rec {
  int32_t vpid;
  uint32_t ngroups;
  uint32_t uid[3], gid[3]; /* real, effective, saved */
  uint32_t groups[AMBER_CREDS_GROUPS];
  uint64_t limits[AMBER_CREDS_LIMITS][2]; /* soft, hard; ~0 for unlimited */
  int32_t nice; /* a value below 0 needs privilege the process may have given up */
  int32_t pad;
};

#endif
