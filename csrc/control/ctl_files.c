/* Image files and Amber's private directories, opened without following links (files.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/table.h"
#include "control.h"
#include "files.h"

#define API __attribute__((visibility("default")))

int amber_open_regular(const char *path, int flags) {
  /* Looked at before it is opened: opening a device may do something (start a watchdog). */
  int at = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (at < 0) return -errno;
  struct stat st;
  int err = fstat(at, &st) ? -errno : 0;
  if (!err && S_ISLNK(st.st_mode)) err = -ELOOP;
  else if (!err && !S_ISREG(st.st_mode)) err = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
  int fd = -1;
  if (!err) {
    char self[32]; /* the very file looked at, even if the path names another one now */
    snprintf(self, sizeof self, "/proc/self/fd/%d", at);
    fd = open(self, flags | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) err = -errno;
  }
  close(at);
  return err ? err : fd;
}

API int32_t amber_ctl_file_kind(const char *path, uint64_t *out) {
  int fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -errno;
  struct stat st;
  int err = fstat(fd, &st) ? -errno : 0;
  close(fd);
  if (err) return err;
  out[0] = st.st_mode;
  out[1] = (uint64_t)st.st_size;
  out[2] = st.st_dev;
  out[3] = st.st_ino;
  out[4] = (uint64_t)st.st_mtim.tv_sec * 1000000000ULL + (uint64_t)st.st_mtim.tv_nsec;
  return 0;
}

API int32_t amber_ctl_private_dir(const char *path, int32_t *out) {
  int made = mkdir(path, 0700) == 0;
  if (!made && errno != EEXIST) return -errno;
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    int err = -errno;
    struct stat st; /* only to tell a link in the message */
    if (err == -ENOTDIR && lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) return -ELOOP;
    return err;
  }
  struct stat st;
  int err = fstat(fd, &st) ? -errno : 0;
  if (!err) {
    out[0] = (int32_t)st.st_uid;
    out[1] = (int32_t)(st.st_mode & 07777);
    if (st.st_uid != geteuid()) err = -EPERM;
    else if (made && (st.st_mode & 0777) != 0700 && fchmod(fd, 0700)) err = -errno; /* umask */
    else if (!made && (st.st_mode & 077)) err = -EACCES;
  }
  close(fd);
  return err;
}

API int32_t amber_ctl_read_regular(const char *path, uint8_t *buf, int32_t cap) {
  int fd = amber_open_regular(path, O_RDONLY);
  if (fd < 0) return fd;
  int32_t n = 0;
  for (;;) {
    ssize_t got = read(fd, buf + n, (size_t)(cap - n));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) n = -errno;
    if (got <= 0) break;
    n += (int32_t)got;
    if (n == cap) {
      char more;
      if (read(fd, &more, 1) > 0) n = -ENOSPC; /* larger than cap */
      break;
    }
  }
  close(fd);
  return n;
}

static int ends(const char *s, size_t cap) {
  return memchr(s, 0, cap) != NULL;
}

int amber_read_image_tables(const char *path, struct amber_table *copy) {
  int fd = amber_open_regular(path, O_RDONLY);
  if (fd < 0) return fd;
  int err = amber_read_tables_file(fd, copy);
  close(fd);
  if (err) return err;
  /* A version 5 image (every application's pids from AMBER_VPID_MIN) has version 6's layout,
   * with padding where vpid_base is; a version 6 one is version 7's without the multicast
   * memberships at the end, which an image's copy never holds (left blank by the read). */
  if (copy->magic == AMBER_TABLE_MAGIC && copy->version == AMBER_TABLE_VERSION_FIXED_BASE &&
      copy->vpid_base == 0)
    copy->version = AMBER_TABLE_VERSION_NO_MCAST, copy->vpid_base = AMBER_VPID_MIN;
  if (copy->magic == AMBER_TABLE_MAGIC && copy->version == AMBER_TABLE_VERSION_NO_MCAST &&
      copy->size == AMBER_TABLE_SIZE_NO_MCAST)
    copy->version = AMBER_TABLE_VERSION, copy->size = sizeof *copy;
  if (copy->magic != AMBER_TABLE_MAGIC ||
      copy->version != AMBER_TABLE_VERSION || copy->size != sizeof *copy)
    return -EPROTO;
  /* None in an image's copy (ctl_tables_file.c): whatever a hand-made one holds is not used. */
  copy->nmcast = copy->mcast_full = 0;
  memset(copy->mcast, 0, sizeof copy->mcast);
  int bad = !amber_vpid_base_valid(copy->vpid_base) || copy->ctl.nslots > AMBER_CTL_MAX_PROCS ||
            copy->ctl.nzombies > AMBER_CTL_MAX_PROCS || copy->vne_nbinds > AMBER_VNE_BINDS ||
            !ends(copy->app_id, sizeof copy->app_id) ||
            !ends(copy->name, sizeof copy->name) || !ends(copy->hostname, sizeof copy->hostname) ||
            !ends(copy->vne, sizeof copy->vne) || !ends(copy->vne_table, sizeof copy->vne_table);
  for (int k = 0; k < AMBER_KIND_COUNT; k++)
    bad |= copy->high[k] > AMBER_TABLE_ROWS || copy->next_slot[k] > AMBER_TABLE_ROWS;
  bad |= copy->nshm_names > AMBER_SHM_NAMES;
  for (uint32_t i = 0; !bad && i < copy->nshm_names; i++)
    bad |= !ends(copy->shm_names[i], sizeof copy->shm_names[i]);
  return bad ? -EPROTO : 0;
}

int amber_read_at(int fd, void *buf, uint64_t len, uint64_t off) {
  for (char *p = buf; len;) {
    ssize_t n = pread(fd, p, len, (off_t)off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n < 0 ? -errno : -EPROTO;
    p += n, len -= (uint64_t)n, off += (uint64_t)n;
  }
  return 0;
}
