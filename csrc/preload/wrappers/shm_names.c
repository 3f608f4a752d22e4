/* A POSIX named semaphore (sem_open) is made as a temporary file in /dev/shm, mapped, linked
 * under its name and its temporary name removed: its mapping shows "/dev/shm/sem.XXXXXX
 * (deleted)" though the file lives on, under a name other processes sem_open and map (Python's
 * multiprocessing with spawn or forkserver). It is one object with theirs: it must be mapped
 * again from that file, not saved apart as a deleted file's content (two copies of one lock). */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/util.h"
#include "../agent/agent_shmem.h"

#define SHM_DIR "/dev/shm/"

int amber_shm_linked_name(struct amber_region_rec *r) {
  static char dents[4096]; /* the checkpoint thread only, one listing at a time */
  if (strncmp(r->name, SHM_DIR, sizeof SHM_DIR - 1) || !amber_is_deleted(r->name)) return 0;
  int dir = (int)amber_sys3(SYS_openat, AT_FDCWD, SHM_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return 0;
  int found = 0;
  long n;
  while (!found && (n = amber_sys3(SYS_getdents64, dir, dents, sizeof dents)) > 0) {
    for (long off = 0; off < n && !found;) {
      struct amber_dirent64 *d = (void *)(dents + off);
      off += d->reclen;
      struct stat st;
      if (d->ino != r->ino || amber_sys4(SYS_newfstatat, dir, d->name, &st, AT_SYMLINK_NOFOLLOW))
        continue;
      uint64_t major = (st.st_dev >> 8) & 0xfff, minor = (st.st_dev & 0xff) | ((st.st_dev >> 12) & 0xfff00);
      if (!S_ISREG(st.st_mode) || st.st_ino != r->ino || ((major << 8) | minor) != r->dev) continue;
      amber_fmt(r->name, sizeof r->name, SHM_DIR "%s", d->name);
      found = 1;
    }
  }
  amber_sys1(SYS_close, dir);
  return found;
}
