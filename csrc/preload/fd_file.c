/* Files, directories and character devices: reopened by path, with flags and offset. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "fd_kinds.h"

int amber_fd_file_capture(struct amber_fd_rec *rec, const char *target, const struct stat *st) {
  size_t n = strlen(target);
  if (n > 10 && !strcmp(target + n - 10, " (deleted)")) {
    amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
              "descriptor %d refers to the deleted file %s, which Amber cannot save yet", rec->fd,
              target);
    return -1;
  }
  rec->kind = AMBER_FD_FILE;
  memcpy(rec->path, target, n + 1 < sizeof rec->path ? n + 1 : sizeof rec->path - 1);
  rec->ino = st->st_ino;
  long off = amber_sys3(SYS_lseek, rec->fd, 0, SEEK_CUR);
  rec->offset = off < 0 ? 0 : off;
  return 0;
}

int amber_fd_file_restore(struct amber_fd_rec *rec, int floor) {
  int flags = rec->flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY);
  int fd = (int)amber_sys4(SYS_openat, AT_FDCWD, rec->path, flags | O_CLOEXEC, 0);
  if (fd < 0) return fd;
  if (rec->offset) amber_sys3(SYS_lseek, fd, rec->offset, SEEK_SET);
  return amber_fd_place(amber_fd_park(fd, floor), rec);
}
