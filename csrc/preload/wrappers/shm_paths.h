/* Files in /dev/shm the application makes by path, noted as shm_open's objects are (table.h,
 * shm_names): a snapshot saves the ones no process maps, a restore makes them again. */
#ifndef AMBER_SHM_PATHS_H
#define AMBER_SHM_PATHS_H

#include "../../common/table.h"

/* wrap_shm_open.c: adds (1) or forgets (0) a name of /dev/shm (one path component) */
void amber_shm_note(const char *name, int add);

/* shm_paths.c. A wrapper of a call that makes or removes a file by path asks first whether
 * `path` (relative to `dirfd`, as openat takes it) names a file right in /dev/shm: if so (1,
 * its name in `name`) it is in a critical section until amber_shm_end, so that no snapshot
 * lands between the file's making and its note; 0 otherwise, or when the library is not active.
 * amber_shm_end notes (add 1) or forgets (add 0) it if the call succeeded (`ok`). */
int amber_shm_begin(int dirfd, const char *path, char name[AMBER_SHM_NAME]);
void amber_shm_end(int in_shm, int ok, const char *name, int add);

#endif
