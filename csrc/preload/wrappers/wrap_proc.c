/* /proc/<pid>/... paths that the program builds from a virtual pid (or task/<tid> from a virtual
 * TID) reach the real process;
 * /proc/<pid>/stat and status are read with their pids made virtual (proc_files.c). */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../core/amber.h"
#include "proc_files.h"
#include "proc_listing.h"
#include "shm_paths.h"

/* The component [p, end) as a system id when it is a virtual pid or TID, else 0. */
static int32_t system_id(const char *p, const char *end) {
  long v = 0;
  const char *q = p;
  while (q < end && *q >= '0' && *q <= '9' && q - p < 10) v = v * 10 + (*q++ - '0');
  if (q == p || q != end || v < AMBER_VPID_MIN) return 0;
  int32_t s = amber_pid_v2s((int32_t)v);
  return s > 0 ? s : 0;
}

/* /proc/<pid>/... and /proc/<pid, self or thread-self>/task/<tid>/... with the virtual pid and
 * TID (gettid's) as the system's. Returns path, or buf holding the translated path (also for
 * seccomp.c's trapped calls). */
const char *amber_proc_path(const char *path, char *buf, size_t cap) {
  if (!amber_active() || !path || strncmp(path, "/proc/", 6) != 0) return path;
  const char *p = path + 6, *q = p;
  while (*q && *q != '/') q++;
  int32_t pid = system_id(p, q), tid = 0;
  const char *t = q, *rest = q;
  if (!strncmp(q, "/task/", 6)) {
    t = rest = q + 6;
    while (*rest && *rest != '/') rest++;
    tid = system_id(t, rest);
  }
  if (!pid && !tid) return path;
  char head[16];
  if (pid) snprintf(head, sizeof head, "%d", pid);
  if (tid)
    snprintf(buf, cap, "/proc/%.*s/task/%d%s", pid ? (int)strlen(head) : (int)(q - p),
             pid ? head : p, tid, rest);
  else
    snprintf(buf, cap, "/proc/%s%s", head, q);
  return buf;
}

#define PROC_BUF char pbuf[4096]
#define P(path) amber_proc_path(path, pbuf, sizeof pbuf)
#define PAT(dirfd, path) proc_path_at(dirfd, path, pbuf, sizeof pbuf)

/* The path a descriptor was opened with (its /proc/self/fd link), or -1. */
static long fd_path(int fd, char *out, size_t cap) {
  char link[32];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  long n = amber_sys3(SYS_readlink, link, out, cap - 1);
  if (n > 0) out[n] = 0;
  return n > 0 ? n : -1;
}

/* A path relative to a descriptor of /proc or of /proc/<pid>/task whose first component is a
 * virtual id (a name its listing gave, proc_listing.c: find's fts, os.scandir's stat) is made
 * absolute and translated; any other path as P does. The descriptor is read only for such a
 * name, which nothing else has. */
static const char *proc_path_at(int dirfd, const char *path, char *buf, size_t cap) {
  if (!path || path[0] == '/' || dirfd == AT_FDCWD || !amber_active())
    return amber_proc_path(path, buf, cap);
  long id = 0;
  const char *p = path;
  while (*p >= '0' && *p <= '9' && p - path < 10) id = id * 10 + (*p++ - '0');
  if (p == path || (*p && *p != '/') || id < AMBER_VPID_MIN) return path;
  char dir[256];
  if (fd_path(dirfd, dir, sizeof dir) < 0 || !amber_proc_listing_dir(dir)) return path;
  char whole[4096];
  snprintf(whole, sizeof whole, "%s/%s", dir, path);
  const char *translated = amber_proc_path(whole, buf, cap);
  if (translated == whole) return path; /* no such virtual id: as it was */
  return translated;
}

static mode_t mode_arg(int flags, va_list ap) {
  return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

/* Every open goes through here: open(path) is openat(AT_FDCWD, path). A relative path never
 * names a /proc file of ours (its directory is the caller's business). */
static int open_at(int (*real)(int, const char *, int, ...), int dirfd, const char *path,
                   int flags, mode_t mode) {
  PROC_BUF;
  const char *translated = PAT(dirfd, path);
  int virtual_file = translated && translated[0] == '/'
                         ? amber_proc_virtual_file(translated, flags)
                         : -1;
  if (virtual_file >= 0) return virtual_file;
  char name[AMBER_SHM_NAME]; /* a file made in /dev/shm is noted (shm_paths.h) */
  int in_shm = (flags & O_CREAT) && amber_shm_begin(dirfd, translated, name);
  int fd = real(dirfd, translated, flags, mode);
  amber_shm_end(in_shm, fd >= 0, name, 1);
  return fd;
}

#define OPEN_MODE(flags, mode)                                                                   \
  va_list ap;                                                                                    \
  va_start(ap, flags);                                                                           \
  mode_t mode = mode_arg(flags, ap);                                                             \
  va_end(ap)

AMBER_EXPORT int open(const char *path, int flags, ...) {
  OPEN_MODE(flags, mode);
  return open_at(REAL(openat), AT_FDCWD, path, flags, mode);
}

AMBER_EXPORT int open64(const char *path, int flags, ...) {
  OPEN_MODE(flags, mode);
  return open_at(REAL(openat64), AT_FDCWD, path, flags, mode);
}

AMBER_EXPORT int openat(int dirfd, const char *path, int flags, ...) {
  OPEN_MODE(flags, mode);
  return open_at(REAL(openat), dirfd, path, flags, mode);
}

AMBER_EXPORT int openat64(int dirfd, const char *path, int flags, ...) {
  OPEN_MODE(flags, mode);
  return open_at(REAL(openat64), dirfd, path, flags, mode);
}

/* fopen for reading of a /proc file of ours is the virtual file as a stream. */
static FILE *fopen_with(FILE *(*real)(const char *, const char *), const char *path,
                        const char *mode) {
  PROC_BUF;
  const char *translated = P(path);
  int reading = mode && mode[0] == 'r' && !strchr(mode, '+');
  int virtual_file = reading ? amber_proc_virtual_file(translated, O_RDONLY | O_CLOEXEC) : -1;
  if (virtual_file >= 0) return fdopen(virtual_file, mode);
  char name[AMBER_SHM_NAME];
  int in_shm = mode && (mode[0] == 'w' || mode[0] == 'a') &&
               amber_shm_begin(AT_FDCWD, translated, name);
  FILE *f = real(translated, mode);
  amber_shm_end(in_shm, f != NULL, name, 1);
  return f;
}

AMBER_EXPORT FILE *fopen(const char *path, const char *mode) {
  return fopen_with(REAL(fopen), path, mode);
}

AMBER_EXPORT FILE *fopen64(const char *path, const char *mode) {
  return fopen_with(REAL(fopen64), path, mode);
}

AMBER_EXPORT DIR *opendir(const char *path) {
  PROC_BUF;
  const char *translated = P(path);
  DIR *dir = REAL(opendir)(translated);
  amber_proc_listing_opened(dir, translated);
  return dir;
}

/* A directory opened first (gnulib's fts in find, python's os.scandir(fd)): named by its link. */
AMBER_EXPORT DIR *fdopendir(int fd) {
  DIR *dir = REAL(fdopendir)(fd);
  char path[64];
  if (dir && amber_active() && fd_path(fd, path, sizeof path) > 0)
    amber_proc_listing_opened(dir, path);
  return dir;
}

/* readdir and readdir64 are one on x86_64: the same struct. */
AMBER_EXPORT struct dirent *readdir(DIR *dir) {
  return (struct dirent *)amber_proc_listing_entry(dir, (struct dirent64 *)REAL(readdir)(dir));
}

AMBER_EXPORT struct dirent64 *readdir64(DIR *dir) {
  return amber_proc_listing_entry(dir, REAL(readdir64)(dir));
}

AMBER_EXPORT int closedir(DIR *dir) {
  amber_proc_listing_closed(dir);
  return REAL(closedir)(dir);
}

/* /proc/self and /proc/thread-self are links to "PID" and "PID/task/TID", the system's: read by
 * the program (its own pid, as some libraries find it), they say the virtual ones. */
static ssize_t self_link(const char *path, char *buf, size_t size, ssize_t n) {
  if (n <= 0 || (strcmp(path, "/proc/self") && strcmp(path, "/proc/thread-self")) ||
      !amber_active())
    return n;
  char link[64];
  int len = (size_t)n < sizeof link ? (int)n : (int)sizeof link - 1;
  memcpy(link, buf, len);
  link[len] = 0;
  int pid = 0, tid = 0;
  if (sscanf(link, "%d/task/%d", &pid, &tid) < 1) return n;
  int32_t vpid = amber_pid_s2v(pid);
  if (vpid <= 0) return n;
  char out[64];
  int m = tid ? snprintf(out, sizeof out, "%d/task/%d", vpid, amber_self_vtid())
              : snprintf(out, sizeof out, "%d", vpid);
  if (m < 0 || (size_t)m > size) return n;
  memcpy(buf, out, m); /* readlink writes no terminating 0 */
  return m;
}

AMBER_EXPORT ssize_t readlink(const char *path, char *buf, size_t size) {
  PROC_BUF;
  return self_link(path, buf, size, REAL(readlink)(P(path), buf, size));
}

AMBER_EXPORT ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t size) {
  PROC_BUF;
  return self_link(path, buf, size, REAL(readlinkat)(dirfd, PAT(dirfd, path), buf, size));
}

AMBER_EXPORT int faccessat(int dirfd, const char *path, int mode, int flags) {
  PROC_BUF;
  return REAL(faccessat)(dirfd, PAT(dirfd, path), mode, flags);
}

AMBER_EXPORT int stat64(const char *path, struct stat64 *st) {
  PROC_BUF;
  return REAL(stat64)(P(path), st);
}

AMBER_EXPORT int lstat64(const char *path, struct stat64 *st) {
  PROC_BUF;
  return REAL(lstat64)(P(path), st);
}

AMBER_EXPORT int fstatat(int dirfd, const char *path, struct stat *st, int flags) {
  PROC_BUF;
  return REAL(fstatat)(dirfd, PAT(dirfd, path), st, flags);
}

AMBER_EXPORT int fstatat64(int dirfd, const char *path, struct stat64 *st, int flags) {
  PROC_BUF;
  return REAL(fstatat64)(dirfd, PAT(dirfd, path), st, flags);
}

AMBER_EXPORT int statx(int dirfd, const char *path, int flags, unsigned int mask,
                       struct statx *st) {
  PROC_BUF;
  return REAL(statx)(dirfd, PAT(dirfd, path), flags, mask, st);
}

AMBER_EXPORT int chdir(const char *path) {
  PROC_BUF;
  return REAL(chdir)(P(path));
}

AMBER_EXPORT int access(const char *path, int mode) {
  PROC_BUF;
  return REAL(access)(P(path), mode);
}

AMBER_EXPORT int stat(const char *path, struct stat *st) {
  PROC_BUF;
  return REAL(stat)(P(path), st);
}

AMBER_EXPORT int lstat(const char *path, struct stat *st) {
  PROC_BUF;
  return REAL(lstat)(P(path), st);
}
