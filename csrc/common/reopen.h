/* Reopening a file by the path saved at the snapshot (a descriptor's, a mapping's), safely:
 * the path is the kernel's resolved name, which had no symbolic link in it, so none is followed
 * now (someone who can write a directory on the way must not be able to point it elsewhere);
 * and the file found must be the one saved: the same device and inode (and birth time, where the
 * file system keeps one: an inode number is reused once its file is deleted), or a copy with the
 * same size and modification time (an image restored on another computer). docs/trust-model.md. */
#ifndef AMBER_REOPEN_H
#define AMBER_REOPEN_H

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <linux/stat.h>
#include <sys/stat.h>

#include "sys.h"

static inline long amber_open_no_links(const char *path, int flags) {
  struct open_how how = {.flags = (uint64_t)(flags | O_NOFOLLOW), .mode = 0,
                         .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
  long fd = amber_sys4(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
  if (fd == -ENOSYS) fd = amber_sys4(SYS_openat, AT_FDCWD, path, flags | O_NOFOLLOW, 0);
  return fd;
}

static inline int64_t amber_mtime_ns(const struct stat *st) {
  return (int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}

/* The file's birth time in ns, or 0 where the file system keeps none. */
static inline int64_t amber_btime_ns(int fd) {
  struct statx stx;
  if (amber_sys5(SYS_statx, fd, "", AT_EMPTY_PATH, STATX_BTIME, &stx) < 0 ||
      !(stx.stx_mask & STATX_BTIME))
    return 0;
  return (int64_t)stx.stx_btime.tv_sec * 1000000000LL + stx.stx_btime.tv_nsec;
}

/* Is the file open on `fd` the one saved? */
static inline int amber_same_file(int fd, uint64_t dev, uint64_t ino, int64_t btime_ns,
                                  int64_t size, int64_t mtime_ns) {
  struct stat st;
  if (amber_sys2(SYS_fstat, fd, &st) < 0) return 0;
  if ((uint64_t)st.st_dev == dev && (uint64_t)st.st_ino == ino)
    return !btime_ns || amber_btime_ns(fd) == btime_ns;
  return st.st_size == size && amber_mtime_ns(&st) == mtime_ns;
}

#endif
