/* A /dev/shm file mapped shared (AMBER_REGION_SHM_FILE) comes back at its path with its saved
 * pages, size, mode, owner and modification time. It is made under a temporary name and renamed over the path:
 * a file the ended original left there is replaced, never written into (a running original keeps
 * its own). Runs after a restore, before the credentials are back: raw system calls only. */
#include <fcntl.h>
#include <sys/stat.h>

#include "../../common/errno_name.h"
#include "agent_shmem.h"

int amber_shm_file_create(const struct amber_region_rec *r, char *tmp, int cap) {
  amber_fmt(tmp, cap, "%s.amber-%d", r->name, (int)amber_sys0(SYS_getpid));
  amber_sys1(SYS_unlink, (long)tmp); /* one an earlier failed restore of this pid left */
  return (int)amber_sys4(SYS_openat, AT_FDCWD, tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
}

int amber_shm_file_publish(int fd, const struct amber_region_rec *r, const char *tmp) {
  long err = amber_sys2(SYS_ftruncate, fd, r->file_size); /* the saved pages end at a page */
  if (!err) err = amber_sys3(SYS_fchown, fd, (uint32_t)r->shmid, r->file_gid);
  if (!err) err = amber_sys2(SYS_fchmod, fd, r->file_mode);
  /* Its time as saved: a descriptor of it the program holds is reopened by path, and taken as
   * the same file by its size and time (common/reopen.h). */
  struct timespec times[2] = {{0, UTIME_OMIT},
                              {r->file_mtime_ns / 1000000000LL, r->file_mtime_ns % 1000000000LL}};
  if (!err) err = amber_sys4(SYS_utimensat, fd, 0, times, 0);
  if (!err) err = amber_sys4(SYS_renameat, AT_FDCWD, tmp, AT_FDCWD, r->name);
  if (err) {
    amber_sys1(SYS_unlink, (long)tmp);
    amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
              "cannot make the shared memory file %s again (%s)", r->name, amber_errno_name(err));
  }
  return (int)err;
}
