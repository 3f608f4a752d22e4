/* Files made in /dev/shm by path rather than by shm_open (a program's own tmpfs files) are noted
 * as shm_open's objects are, and forgotten when removed or renamed away, so that a snapshot saves
 * one that no process maps or holds (shm_paths.h). open, openat and fopen are wrapped in
 * wrap_proc.c; these are the other calls that make, remove or move a file by its path. glibc's
 * creat, mkstemp and remove call its open and unlink inside libc, out of the library's sight,
 * so they are wrapped themselves. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "../core/amber.h"
#include "shm_paths.h"

static int made(int (*real)(const char *, mode_t), const char *path, mode_t mode) {
  char name[AMBER_SHM_NAME];
  int in_shm = amber_shm_begin(AT_FDCWD, path, name);
  int fd = real(path, mode);
  amber_shm_end(in_shm, fd >= 0, name, 1);
  return fd;
}

AMBER_EXPORT int creat(const char *path, mode_t mode) { return made(REAL(creat), path, mode); }
AMBER_EXPORT int creat64(const char *path, mode_t mode) { return made(REAL(creat64), path, mode); }

/* mkstemp's template: its last characters are the name's, the XXXXXX filled in in place. */
static int made_from_template(int (*real)(char *, int), char *template, int flags) {
  char name[AMBER_SHM_NAME];
  int in_shm = amber_shm_begin(AT_FDCWD, template, name);
  int fd = real(template, flags);
  size_t len = in_shm ? strlen(name) : 0;
  if (in_shm) memcpy(name, template + strlen(template) - len, len + 1);
  amber_shm_end(in_shm, fd >= 0, name, 1);
  return fd;
}

AMBER_EXPORT int mkstemp(char *template) { return made_from_template(REAL(mkostemp), template, 0); }
AMBER_EXPORT int mkstemp64(char *template) {
  return made_from_template(REAL(mkostemp64), template, 0);
}
AMBER_EXPORT int mkostemp(char *template, int flags) {
  return made_from_template(REAL(mkostemp), template, flags);
}
AMBER_EXPORT int mkostemp64(char *template, int flags) {
  return made_from_template(REAL(mkostemp64), template, flags);
}

AMBER_EXPORT int unlinkat(int dirfd, const char *path, int flags) {
  char name[AMBER_SHM_NAME];
  int in_shm = !(flags & AT_REMOVEDIR) && amber_shm_begin(dirfd, path, name);
  int r = REAL(unlinkat)(dirfd, path, flags);
  amber_shm_end(in_shm, r == 0, name, 0);
  return r;
}

static int removed(int (*real)(const char *), const char *path) {
  char name[AMBER_SHM_NAME];
  int in_shm = amber_shm_begin(AT_FDCWD, path, name);
  int r = real(path);
  amber_shm_end(in_shm, r == 0, name, 0);
  return r;
}

AMBER_EXPORT int unlink(const char *path) { return removed(REAL(unlink), path); }
AMBER_EXPORT int remove(const char *path) { return removed(REAL(remove), path); }

/* A move out of /dev/shm forgets the old name, one into it notes the new (an exchange keeps
 * a file at both). Nested critical sections: the depth counts them. */
static int moved(int old_dir, const char *old_path, int new_dir, const char *new_path,
                 unsigned int flags) {
  char from[AMBER_SHM_NAME], to[AMBER_SHM_NAME];
  int from_shm = amber_shm_begin(old_dir, old_path, from);
  int to_shm = amber_shm_begin(new_dir, new_path, to);
  int r = flags ? REAL(renameat2)(old_dir, old_path, new_dir, new_path, flags)
                : REAL(renameat)(old_dir, old_path, new_dir, new_path);
  amber_shm_end(to_shm, r == 0, to, 1);
  amber_shm_end(from_shm, r == 0, from, (flags & RENAME_EXCHANGE) != 0);
  return r;
}

AMBER_EXPORT int rename(const char *old_path, const char *new_path) {
  return moved(AT_FDCWD, old_path, AT_FDCWD, new_path, 0);
}

AMBER_EXPORT int renameat(int old_dir, const char *old_path, int new_dir, const char *new_path) {
  return moved(old_dir, old_path, new_dir, new_path, 0);
}

AMBER_EXPORT int renameat2(int old_dir, const char *old_path, int new_dir, const char *new_path,
                           unsigned int flags) {
  return moved(old_dir, old_path, new_dir, new_path, flags);
}
