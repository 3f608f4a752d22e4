/* The application's named POSIX shared memory files that no process mapped at the snapshot
 * (common/shm_files.h), made again in /dev/shm before any process is forked, with their
 * contents, mode and modification time: a program that opens one again by name finds it, and a
 * descriptor of one is reopened by path and recognised (common/reopen.h). Each is made under a
 * temporary name and renamed over its path, so a file the ended original left is replaced,
 * never written into. When root restores another user's image they are made as her (her files,
 * and /dev/shm's sticky bit keeps her from replacing anyone else's); otherwise as the restorer,
 * and then given the owner they had. */
#include <fcntl.h>
#include <sys/stat.h>

#include "../common/shm_files.h"
#include "restorer.h"

static char data[1 << 16];

static int name_ok(const char *name) {
  int len = 0;
  while (len < 256 && name[len]) {
    if (name[len] == '/') return 0;
    len++;
  }
  return len > 0 && len < 256 && strcmp(name, ".") && strcmp(name, "..");
}

static void make_one(int fd, const struct amber_shm_file_rec *rec, uint64_t off, uint64_t file_size) {
  char path[300], tmp[340];
  rt_copy(path, AMBER_SHM_DIR, sizeof path);
  rt_append(path, sizeof path, rec->name);
  rt_copy(tmp, path, sizeof tmp);
  rt_append(tmp, sizeof tmp, ".amber-");
  rt_append_num(tmp, sizeof tmp, amber_sys0(SYS_getpid), 10);
  if (rec->size < 0 || (uint64_t)rec->size > file_size - off) die_about("a damaged record of", path, -71);
  uint32_t uid, gid;
  int as_owner = ceiling_ids(&uid, &gid);
  if (as_owner) amber_sys1(SYS_setfsgid, gid), amber_sys1(SYS_setfsuid, uid);
  amber_sys1(SYS_unlink, (long)tmp); /* one an earlier failed restore of this pid left */
  long out = amber_sys4(SYS_openat, AT_FDCWD, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (as_owner) amber_sys1(SYS_setfsuid, 0), amber_sys1(SYS_setfsgid, 0);
  if (out < 0) die_about("cannot make the shared memory file", path, out);
  long err = 0;
  for (int64_t done = 0; !err && done < rec->size;) {
    uint64_t n = (uint64_t)(rec->size - done) < sizeof data ? (uint64_t)(rec->size - done) : sizeof data;
    err = rt_pread_all(fd, data, n, off + (uint64_t)done);
    for (uint64_t w = 0; !err && w < n;) {
      long k = amber_sys3(SYS_write, out, data + w, n - w);
      if (k <= 0) err = k < 0 ? k : -5;
      else w += (uint64_t)k;
    }
    done += (int64_t)n;
  }
  if (!err && !as_owner && (rec->uid != (uint32_t)amber_sys0(SYS_geteuid) ||
                            rec->gid != (uint32_t)amber_sys0(SYS_getegid)))
    err = amber_sys3(SYS_fchown, out, rec->uid, rec->gid);
  if (!err) err = amber_sys2(SYS_fchmod, out, rec->mode & 0777);
  struct timespec times[2] = {{0, UTIME_OMIT}, {rec->mtime_ns / 1000000000LL, rec->mtime_ns % 1000000000LL}};
  if (!err) err = amber_sys4(SYS_utimensat, out, 0, times, 0);
  if (as_owner) amber_sys1(SYS_setfsgid, gid), amber_sys1(SYS_setfsuid, uid);
  if (!err) err = amber_sys4(SYS_renameat, AT_FDCWD, tmp, AT_FDCWD, path);
  if (err) amber_sys1(SYS_unlink, (long)tmp);
  if (as_owner) amber_sys1(SYS_setfsuid, 0), amber_sys1(SYS_setfsgid, 0);
  amber_sys1(SYS_close, out);
  if (err) die_about("cannot make again the shared memory file", path, err);
}

void make_shm_files(void) {
  char path[4200];
  rt_copy(path, image_dir, sizeof path);
  rt_append(path, sizeof path, "/" AMBER_SHM_FILES);
  long fd = open_image_file(path);
  if (fd == -2 /* ENOENT: nothing to make */) return;
  if (fd < 0) die_about("cannot open", path, fd);
  struct stat st;
  uint64_t magic = 0;
  if (amber_sys2(SYS_fstat, fd, &st) || !S_ISREG(st.st_mode) ||
      rt_pread_all((int)fd, &magic, sizeof magic, 0) || magic != AMBER_SHM_FILES_MAGIC)
    die_image(path, "not a file of shared memory files");
  uint64_t off = sizeof magic, size = (uint64_t)st.st_size;
  for (int64_t count = 0;; count++) {
    struct amber_shm_file_rec rec;
    if (off > size || size - off < sizeof rec || rt_pread_all((int)fd, &rec, sizeof rec, off))
      die_image(path, "it is cut short");
    off += sizeof rec;
    if (!rec.name[0]) {
      if (rec.size != count || off != size) die_image(path, "its end does not match");
      break;
    }
    if (!name_ok(rec.name)) die_image(path, "a name is not one of /dev/shm's");
    make_one((int)fd, &rec, off, size);
    off += (uint64_t)rec.size;
  }
  amber_sys1(SYS_close, fd);
}
