/* inotify_add_watch: the path of each watched file, so that a snapshot finds it again without a
 * file handle (open_by_handle_at needs CAP_DAC_READ_SEARCH, which an unprivileged program does
 * not have). Kept by the watched file's device and inode, the names fdinfo gives a watch by
 * (fd_inotify.c); the path is the kernel's resolved name of what was watched, read back from an
 * O_PATH descriptor on it, and a snapshot uses it only if it still names that inode. Saved with
 * the process's memory, so a restored process knows its watches' paths as well. Entries are
 * appended without a lock (a slot and its bytes reserved atomically, then published); when the
 * space is full, later watches are not noted and a snapshot finds them through their handle. */
#include <fcntl.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include "../core/amber.h"
#include "../core/util.h"
#include "../fds/inotify_paths.h"

#define MAX_NOTED 4096
#define PATH_SPACE (512 << 10)

static struct {
  uint64_t dev, ino;
  uint32_t off;
  uint32_t ready; /* published last: the path's bytes are written */
} noted[MAX_NOTED];
static char space[PATH_SPACE];
static uint32_t used, used_space;

const char *amber_inotify_path(uint64_t dev, uint64_t ino) {
  uint32_t n = __atomic_load_n(&used, __ATOMIC_ACQUIRE);
  if (n > MAX_NOTED) n = MAX_NOTED;
  for (uint32_t i = n; i-- > 0;) /* the latest first: a path renamed since is noted again */
    if (__atomic_load_n(&noted[i].ready, __ATOMIC_ACQUIRE) && noted[i].dev == dev &&
        noted[i].ino == ino)
      return space + noted[i].off;
  return 0;
}

void amber_inotify_note(const char *path, uint64_t dev, uint64_t ino) {
  const char *known = amber_inotify_path(dev, ino);
  if (known && !strcmp(known, path)) return;
  uint32_t len = (uint32_t)strlen(path) + 1;
  uint32_t slot = __atomic_fetch_add(&used, 1, __ATOMIC_ACQ_REL);
  if (slot >= MAX_NOTED) return;
  uint32_t off = __atomic_fetch_add(&used_space, len, __ATOMIC_ACQ_REL);
  if (off + len > PATH_SPACE || off + len < off) return; /* the slot stays unpublished */
  memcpy(space + off, path, len);
  noted[slot].dev = dev;
  noted[slot].ino = ino;
  noted[slot].off = off;
  __atomic_store_n(&noted[slot].ready, 1, __ATOMIC_RELEASE);
}

/* The file a watch was just added on, as the call resolved it (following a last link unless
 * IN_DONT_FOLLOW; a directory only with IN_ONLYDIR, so that the same file is found). */
static void note_watched(const char *path, uint32_t mask) {
  int flags = O_PATH | O_CLOEXEC | (mask & IN_DONT_FOLLOW ? O_NOFOLLOW : 0) |
              (mask & IN_ONLYDIR ? O_DIRECTORY : 0);
  int fd = (int)amber_sys4(SYS_openat, AT_FDCWD, path, flags, 0);
  if (fd < 0) return;
  char link[64], name[4096];
  struct stat st;
  amber_fmt(link, sizeof link, "/proc/thread-self/fd/%d", fd);
  long len = amber_sys4(SYS_readlinkat, AT_FDCWD, link, name, sizeof name - 1);
  if (len > 0 && len < (long)sizeof name - 1 && amber_sys2(SYS_fstat, fd, &st) == 0) {
    name[len] = 0;
    if (name[0] == '/' && !amber_is_deleted(name))
      amber_inotify_note(name, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
  }
  amber_sys1(SYS_close, fd);
}

AMBER_EXPORT int inotify_add_watch(int fd, const char *path, uint32_t mask) {
  if (!amber_active()) return REAL(inotify_add_watch)(fd, path, mask);
  amber_enter(); /* no checkpoint between the watch and its note */
  int wd = REAL(inotify_add_watch)(fd, path, mask);
  if (wd >= 0) {
    int saved = errno;
    note_watched(path, mask);
    errno = saved;
  }
  amber_leave();
  return wd;
}
