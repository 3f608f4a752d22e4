/* /proc/<pid>/stat and status with virtual pids (proc_files.c), and CPU times shifted. */
#ifndef AMBER_PROC_FILES_H
#define AMBER_PROC_FILES_H

#include <stdint.h>

/* A memfd holding the file's text with virtual pids, for a read-only open of one of those
 * files; -errno for any other path or a failure (the caller opens it for real). */
int amber_proc_virtual_file(const char *path, int flags);
/* For a descriptor that amber_proc_virtual_file made: its path, with this process's own pid as
 * "self" (so that a restore makes it again for the new process); NULL for any other. */
const char *amber_proc_virtual_path(int fd);

/* wrap_proc.c: a /proc/<virtual pid>/... path as the system's, in buf; any other is path. */
const char *amber_proc_path(const char *path, char *buf, unsigned long cap);

/* proc_cpu_times.c: the CPU times in them go on across a restore. The shifts of utime and stime
 * in the stat file at `path` of process `sys_pid`; a schedstat file's text, shifted. */
void amber_proc_stat_shifts(const char *path, int32_t sys_pid, int64_t shift[4]);
int amber_proc_rewrite_schedstat(const char *path, const char *in, char *out, int cap);

#endif
