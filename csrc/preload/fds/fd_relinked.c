/* A file whose descriptor names it deleted but which still has links: it was given a name
 * after it was opened under another one, which the kernel then shows as deleted. The usual
 * way is O_TMPFILE then linkat (write a file whole, unnamed, and publish it: the descriptor's
 * name stays "DIR/#INODE (deleted)"); a hard link and the first name removed is another. A
 * name of the same file in the same directory, found by its inode, is reopened at restore as
 * any file is (which checks it is the same file); with none there, the snapshot refuses. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "fd_kinds.h"

int amber_relinked_name(const char *target, const struct stat *st, char *out, int cap) {
  static char dents[4096]; /* only the checkpoint leader captures descriptors */
  char dir[4096];
  amber_undeleted_name(target, 0, dir, sizeof dir);
  char *slash = strrchr(dir, '/');
  if (!slash) return -ENOENT;
  slash[slash == dir] = 0; /* "/" stays "/" */
  int dfd = (int)amber_sys3(SYS_openat, AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return dfd;
  int found = -ENOENT;
  long n;
  while (found && (n = amber_sys3(SYS_getdents64, dfd, dents, sizeof dents)) > 0) {
    for (long off = 0; off < n && found;) {
      struct amber_dirent64 *d = (void *)(dents + off);
      off += d->reclen;
      struct stat here;
      if (d->ino != st->st_ino ||
          amber_sys4(SYS_newfstatat, dfd, d->name, &here, AT_SYMLINK_NOFOLLOW) ||
          here.st_dev != st->st_dev || here.st_ino != st->st_ino || !S_ISREG(here.st_mode))
        continue;
      if (amber_fmt(out, cap, "%s%s%s", dir, dir[1] ? "/" : "", d->name) < cap) found = 0;
    }
  }
  amber_sys1(SYS_close, dfd);
  return found;
}
