/* Which paths name a file right in /dev/shm (shm_paths.h). A relative one is read against its
 * directory: the working directory, or the descriptor's (/proc/self/fd). */
#include <fcntl.h>
#include <string.h>

#include "../core/amber.h"
#include "../core/util.h"
#include "../../common/shm_files.h"
#include "shm_paths.h"

/* The name within /dev/shm of `full`, an absolute path, if it is one component there. */
static int name_in_shm(const char *full, char *name) {
  if (strncmp(full, AMBER_SHM_DIR, sizeof AMBER_SHM_DIR - 1)) return 0;
  const char *n = full + sizeof AMBER_SHM_DIR - 1;
  while (*n == '/') n++;
  size_t len = strlen(n);
  if (!len || len >= AMBER_SHM_NAME || strchr(n, '/') || !strcmp(n, ".") || !strcmp(n, ".."))
    return 0;
  memcpy(name, n, len + 1);
  return 1;
}

static int shm_name(int dirfd, const char *path, char *name) {
  if (!path || !*path) return 0;
  if (path[0] == '/') return name_in_shm(path, name);
  while (path[0] == '.' && path[1] == '/') /* "./name" */
    for (path += 2; *path == '/';) path++;
  char full[4096 + AMBER_SHM_NAME];
  long n;
  if (dirfd == AT_FDCWD) {
    n = amber_sys2(SYS_getcwd, full, 4096); /* its length with the NUL */
    n = n > 0 ? n - 1 : -1;
  } else {
    char link[48];
    amber_fmt(link, sizeof link, "/proc/self/fd/%d", dirfd);
    n = amber_sys4(SYS_readlinkat, AT_FDCWD, link, full, 4095);
  }
  if (n <= 0 || n >= 4095 || strlen(path) >= AMBER_SHM_NAME) return 0;
  full[n] = '/';
  strcpy(full + n + 1, path);
  return name_in_shm(full, name);
}

int amber_shm_begin(int dirfd, const char *path, char name[AMBER_SHM_NAME]) {
  if (!amber_active() || !shm_name(dirfd, path, name)) return 0;
  amber_enter();
  return 1;
}

void amber_shm_end(int in_shm, int ok, const char *name, int add) {
  if (!in_shm) return;
  if (ok) amber_shm_note(name, add);
  amber_leave();
}
