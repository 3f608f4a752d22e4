/* POSIX shared memory objects by name: the library notes each one the application makes
 * (shm_open with O_CREAT) and forgets it when unlinked, so that a snapshot saves one that no
 * process maps or holds at that moment (a program that will open it again by name), which the
 * restore then makes again (common/table.h, control/ctl_shm_files.c). Files made in /dev/shm
 * by path (open, creat, mkstemp, rename) are noted the same way (wrap_shm_paths.c). */
#include <string.h>
#include <sys/mman.h>

#include "../core/amber.h"
#include "../core/symbols.h"
#include "shm_paths.h"

/* The name as glibc takes it: without its leading slashes; NULL if it cannot be one. */
static const char *bare(const char *name) {
  while (name && *name == '/') name++;
  return name && *name && !strchr(name, '/') && strlen(name) < AMBER_SHM_NAME ? name : NULL;
}

static int find(struct amber_table *t, const char *name) {
  for (uint32_t i = 0; i < t->nshm_names && i < AMBER_SHM_NAMES; i++)
    if (!strcmp(t->shm_names[i], name)) return (int)i;
  return -1;
}

void amber_shm_note(const char *name, int add) {
  struct amber_table *t = amber.table;
  amber_enter();
  amber_table_lock(t);
  int i = find(t, name);
  if (add && i < 0 && t->nshm_names < AMBER_SHM_NAMES) {
    strcpy(t->shm_names[t->nshm_names], name);
    t->nshm_names++;
  } else if (add && i < 0) {
    t->shm_names_full = 1;
  } else if (!add && i >= 0) {
    memcpy(t->shm_names[i], t->shm_names[t->nshm_names - 1], AMBER_SHM_NAME);
    t->nshm_names--;
  }
  amber_table_unlock(t);
  amber_leave();
}

AMBER_EXPORT int shm_open(const char *name, int oflag, mode_t mode) {
  int fd = REAL(shm_open)(name, oflag, mode);
  const char *b = bare(name);
  if (fd >= 0 && (oflag & O_CREAT) && b && amber_active()) amber_shm_note(b, 1);
  return fd;
}

AMBER_EXPORT int shm_unlink(const char *name) {
  int r = REAL(shm_unlink)(name);
  const char *b = bare(name);
  if (r == 0 && b && amber_active()) amber_shm_note(b, 0);
  return r;
}
