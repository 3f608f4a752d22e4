/* The paths of inotify watches the program added through the library (wrap_inotify.c), by the
 * watched file's device (as stat gives it) and inode: signal-safe, no allocation. */
#ifndef AMBER_INOTIFY_PATHS_H
#define AMBER_INOTIFY_PATHS_H

#include <stdint.h>

/* The latest path noted for the file, or null; it may name another file by now. */
const char *amber_inotify_path(uint64_t dev, uint64_t ino);
/* Notes path for the file (a restore notes the paths it watches again). */
void amber_inotify_note(const char *path, uint64_t dev, uint64_t ino);

#endif
