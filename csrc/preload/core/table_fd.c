/* The application's tables are reached through a descriptor that every process of it inherits
 * across fork and exec (its number in AMBER_TABLE_FD), not by path: a process that switched
 * user (a server that drops root, then execs a worker) can no longer open the tables in the
 * application's private directory, and would run without virtual IDs. The descriptor gives it
 * the tables and nothing else. It is Amber's, not the program's: it sits high, close,
 * close_range, closefrom, dup2 and dup3 step around it, and a snapshot does not save it. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "amber.h"
#include "util.h"

int amber_table_fd = -1; /* saved with memory: a restored process keeps the number */

/* High, out of the way of the program's own descriptors, below its limit. */
static int place_high(int fd) {
  struct rlimit lim = {1024, 1024};
  amber_sys4(SYS_prlimit64, 0, RLIMIT_NOFILE, 0, &lim);
  long top = lim.rlim_cur < 1024 ? (long)lim.rlim_cur : 1024;
  long from = top - 24 > 10 ? top - 24 : 10;
  int high = (int)amber_sys3(SYS_fcntl, fd, F_DUPFD, from); /* not close-on-exec */
  if (high < 0) high = (int)amber_sys3(SYS_fcntl, fd, F_DUPFD, 10);
  amber_sys1(SYS_close, fd);
  return high;
}

/* Is `fd` open on the tables at `path`? Where this process may look at the path, it must be the
 * same file (a program of another application, started from this one, inherits the variable). */
static int names_tables(int fd, const char *path) {
  struct stat by_fd, by_path;
  if (amber_sys2(SYS_fstat, fd, &by_fd) < 0 || !S_ISREG(by_fd.st_mode)) return 0;
  if (amber_sys4(SYS_newfstatat, AT_FDCWD, path, &by_path, 0) < 0) return 1;
  return by_fd.st_dev == by_path.st_dev && by_fd.st_ino == by_path.st_ino;
}

/* The tables through the inherited descriptor if there is one, else by path (and a descriptor
 * is kept for the programs this process execs). NULL when neither works. */
struct amber_table *amber_table_fd_open(const char *path, int *err) {
  struct amber_table *t = NULL;
  const char *env = getenv("AMBER_TABLE_FD");
  uint64_t fd;
  if (env && !amber_parse_u64(&env, &fd, 10) && !*env && fd < 1u << 20 &&
      names_tables((int)fd, path) && amber_table_map_fd((int)fd, &t) == 0) {
    amber_table_fd = (int)fd;
    return t;
  }
  *err = amber_table_open(path, &t);
  if (*err) return NULL;
  long own = amber_sys3(SYS_openat, AT_FDCWD, path, O_RDWR);
  if (own >= 0) amber_table_fd = place_high((int)own);
  return t;
}

/* Amber's own descriptors are the tables' and the dirty-page tracker's userfaultfd
 * (agent_track.c), kept the same way. */
int amber_table_fd_is(int fd) { return fd >= 0 && (fd == amber_table_fd || fd == amber_track_fd); }

int amber_table_fd_above(int lowfd) {
  return lowfd >= 0 && (amber_table_fd >= lowfd || amber_track_fd >= lowfd);
}

int amber_fd_place_high(int fd) {
  int high = place_high(fd);
  if (high >= 0) amber_sys3(SYS_fcntl, high, F_SETFD, FD_CLOEXEC);
  return high;
}

/* The program wants this number (dup2 onto it): Amber's descriptor moves out of its way. */
void amber_table_fd_evade(int fd) {
  if (!amber_table_fd_is(fd)) return;
  int moved = (int)amber_sys3(SYS_fcntl, fd, fd == amber_track_fd ? F_DUPFD_CLOEXEC : F_DUPFD,
                              fd + 1);
  if (moved < 0) return;
  amber_sys1(SYS_close, fd);
  if (fd == amber_track_fd) amber_track_fd = moved, amber_track_early(); /* named anew */
  else amber_table_fd = moved;
}

/* close_range(2) over every descriptor of the range but Amber's own, lowest first. */
int amber_table_fd_close_range(unsigned first, unsigned last, int flags) {
  unsigned own[2] = {(unsigned)amber_table_fd, (unsigned)amber_track_fd};
  if (own[1] < own[0]) own[0] = (unsigned)amber_track_fd, own[1] = (unsigned)amber_table_fd;
  int r = 0;
  for (int i = 0; i < 2 && r == 0; i++) {
    unsigned t = own[i]; /* -1 (none) is above any range */
    if (t < first || t > last) continue;
    if (t > first) r = REAL(close_range)(first, t - 1, flags);
    if (t == last) return r;
    first = t + 1;
  }
  return r == 0 ? REAL(close_range)(first, last, flags) : r;
}

/* After a restore: the restorer's descriptor on the new application's tables takes the number
 * the process had (no descriptor of the program has it: it was Amber's). */
void amber_table_fd_after_restore(int restorer_fd) {
  if (restorer_fd < 0) return;
  if (amber_table_fd >= 0 && amber_table_fd != restorer_fd) {
    amber_sys3(SYS_dup3, restorer_fd, amber_table_fd, 0);
    amber_sys1(SYS_close, restorer_fd);
  } else {
    amber_sys3(SYS_fcntl, restorer_fd, F_SETFD, 0);
    amber_table_fd = place_high(restorer_fd);
  }
}
