/* /proc/<pid>/stat and status with virtual pids (proc_files.c). */
#ifndef AMBER_PROC_FILES_H
#define AMBER_PROC_FILES_H

/* A memfd holding the file's text with virtual pids, for a read-only open of one of those
 * files; -1 for any other path (the caller opens it for real). */
int amber_proc_virtual_file(const char *path, int flags);

#endif
