/* A copy-on-write snapshot writes tables.bin after the thaw. While every process is frozen the
 * coordinator only copies the tables into memory it made beforehand (a memcpy of the ~2 MiB
 * table, where picking and writing the compact file's pages took 1-9 ms frozen); once every
 * process has written its file it writes that copy, with the live slots (which processes wrote
 * their files): the rows stay those of the freeze, as the application ran on, forking and
 * reaping. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "../common/table.h"
#include "control.h"
#include "files.h"

#define API __attribute__((visibility("default")))

API int64_t amber_ctl_tables_bytes(void) { return (int64_t)sizeof(struct amber_table); }

API int32_t amber_ctl_copy_tables(void *table, void *copy, int64_t cap) {
  if (cap < (int64_t)sizeof(struct amber_table)) return -ENOSPC;
  memcpy(copy, table, sizeof(struct amber_table));
  return 0;
}

API int32_t amber_ctl_save_tables_copy(void *table, void *copy, const char *path) {
  struct amber_table *t = table, *saved = copy;
  memcpy(saved->ctl.slots, t->ctl.slots, sizeof saved->ctl.slots);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return -errno;
  /* No fsync: the image's files are made durable together (src/snapshot.ts, syncFiles). */
  int err = amber_write_image_tables(fd, saved);
  if (close(fd) && !err) err = -errno;
  return err;
}
