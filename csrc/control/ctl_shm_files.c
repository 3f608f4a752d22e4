/* POSIX shared memory objects the application made by name (table.h, shm_names; also files it
 * made in /dev/shm by path, preload/wrappers/wrap_shm_paths.c) that no process
 * maps at the snapshot: saved from /dev/shm into <image>/shm-files.bin while every process is
 * frozen, and made again by the restorer before any process runs (restorer/shm_files.c). One a
 * process maps is saved with that process's memory (preload/agent/shm_file.c), not here.
 *
 * shm-files.bin, native byte order, written as shm-files.bin.tmp and renamed when whole:
 *   header   u64 magic "AMBRSHM1"
 *   records  struct amber_shm_file_rec, then `size` bytes: the file's contents
 *   trailer  a record with an empty name whose size is the number of records
 * No file when there is nothing to save. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/shm_files.h"
#include "../common/table.h"
#include "clone_share.h"

static int write_all(int fd, const void *buf, size_t len) {
  for (const char *p = buf; len;) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n < 0 ? -errno : -EIO;
    p += n, len -= (size_t)n;
  }
  return 0;
}

/* Does a process map it? (The coordinator's list of what is shared, ctl_share.c.) */
static int mapped(struct amber_table *t, const struct stat *st) {
  if (!__atomic_load_n(&t->share.ready, __ATOMIC_ACQUIRE)) return 0;
  for (uint32_t i = 0; i < t->share.n && i < AMBER_SHARE_MAX; i++)
    if (t->share.fds[i].fd == -1 && t->share.fds[i].dev == st->st_dev &&
        t->share.fds[i].ino == st->st_ino)
      return 1;
  return 0;
}

/* One file; 0 when there is nothing to save (gone, or mapped), 1 when saved, or -errno with
 * `buf` naming it. */
static int save_one(int out, struct amber_table *t, const char *name, char *buf, int cap) {
  char path[AMBER_SHM_NAME + 16];
  snprintf(path, sizeof path, AMBER_SHM_DIR "%s", name);
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) return 0; /* unlinked behind the library's back */
  struct stat st;
  int err = fd < 0 ? -errno : fstat(fd, &st) ? -errno : S_ISREG(st.st_mode) ? 0 : -EINVAL;
  if (!err && mapped(t, &st)) {
    close(fd);
    return 0;
  }
  struct amber_shm_file_rec rec = {.mode = st.st_mode & 0777, .uid = st.st_uid, .gid = st.st_gid,
                                   .size = st.st_size,
                                   .mtime_ns = st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec};
  if (!err) {
    strcpy(rec.name, name);
    err = write_all(out, &rec, sizeof rec);
  }
  static __thread char data[1 << 16];
  for (int64_t off = 0; !err && off < rec.size;) {
    ssize_t n = pread(fd, data, sizeof data, off);
    if (n <= 0) err = n < 0 ? -errno : -EIO; /* it shrank: the processes are frozen, no one did */
    else err = write_all(out, data, (size_t)n), off += n;
  }
  if (fd >= 0) close(fd);
  if (err)
    snprintf(buf, cap, "cannot save the shared memory file %s, which no process maps: %s", path,
             strerror(-err));
  return err ? err : 1;
}

int32_t amber_ctl_shm_files_save(struct amber_table *t, const char *image_dir, char *buf,
                                 int32_t cap) {
  if (t->shm_names_full) {
    snprintf(buf, cap, "the application made more than %d POSIX shared memory objects by name "
             "(shm_open, or files in /dev/shm by path), more than Amber keeps track of",
             AMBER_SHM_NAMES);
    return -E2BIG;
  }
  if (t->nshm_names == 0) return 0;
  char path[4096], tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s/" AMBER_SHM_FILES ".tmp", image_dir) >= (int)sizeof tmp)
    return -ENAMETOOLONG;
  snprintf(path, sizeof path, "%s/" AMBER_SHM_FILES, image_dir);
  int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (out < 0) return -errno;
  uint64_t magic = AMBER_SHM_FILES_MAGIC;
  int err = write_all(out, &magic, sizeof magic), saved = 0;
  for (uint32_t i = 0; !err && i < t->nshm_names && i < AMBER_SHM_NAMES; i++) {
    char name[AMBER_SHM_NAME];
    memcpy(name, t->shm_names[i], sizeof name);
    name[sizeof name - 1] = 0;
    int r = save_one(out, t, name, buf, cap);
    if (r < 0) err = r;
    else saved += r;
  }
  struct amber_shm_file_rec end = {.size = saved};
  if (!err) err = write_all(out, &end, sizeof end);
  if (!err && fsync(out)) err = -errno;
  if (close(out) && !err) err = -errno;
  if (!err && saved && rename(tmp, path)) err = -errno;
  if (err || !saved) unlink(tmp);
  return err;
}
