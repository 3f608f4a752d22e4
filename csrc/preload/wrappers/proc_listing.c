/* The listing of /proc and of /proc/<pid>/task names processes and threads by system id: a
 * program that walks them (psutil's process_iter and children(), procps) found its own
 * processes under numbers its calls refuse (ESRCH) and that never equal getpid(). Read through
 * readdir, an entry of a process or thread of the application is named by its virtual id; one
 * outside keeps its system id, as its /proc files do (proc_files.c). Opened by opendir or
 * fdopendir (find's fts). Not seen: listings read with getdents64 itself (Go's os.ReadDir) or
 * inside libc (scandir, Node's fs.readdir). */
#include <dirent.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/amber.h"
#include "proc_listing.h"

#define MAX_LISTINGS 16

/* An open listing, and the entry last handed out (valid until the next readdir of it). */
static struct listing {
  DIR *dir;
  struct dirent64 entry;
} listings[MAX_LISTINGS];
static int nopen; /* listings registered: readdir of any other directory looks no further */

/* /proc, or /proc/<pid, self or thread-self>/task. */
int amber_proc_listing_dir(const char *path) {
  if (!path || strncmp(path, "/proc", 5)) return 0;
  const char *p = path + 5;
  if (!*p || !strcmp(p, "/")) return 1;
  if (*p++ != '/') return 0;
  const char *q = p;
  while (*q && *q != '/') q++;
  return !strcmp(q, "/task") || !strcmp(q, "/task/");
}

void amber_proc_listing_opened(DIR *dir, const char *path) {
  if (!dir || !amber_active() || !amber_proc_listing_dir(path)) return;
  for (int i = 0; i < MAX_LISTINGS; i++) {
    DIR *none = NULL;
    if (__atomic_compare_exchange_n(&listings[i].dir, &none, dir, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE)) {
      __atomic_add_fetch(&nopen, 1, __ATOMIC_ACQ_REL);
      return;
    }
  }
}

void amber_proc_listing_closed(DIR *dir) {
  if (!__atomic_load_n(&nopen, __ATOMIC_ACQUIRE)) return;
  for (int i = 0; i < MAX_LISTINGS; i++) {
    DIR *was = dir;
    if (__atomic_compare_exchange_n(&listings[i].dir, &was, NULL, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE))
      __atomic_sub_fetch(&nopen, 1, __ATOMIC_ACQ_REL);
  }
}

struct dirent64 *amber_proc_listing_entry(DIR *dir, struct dirent64 *e) {
  if (!e || !__atomic_load_n(&nopen, __ATOMIC_ACQUIRE) || e->d_name[0] < '1' ||
      e->d_name[0] > '9')
    return e;
  struct listing *l = NULL;
  for (int i = 0; i < MAX_LISTINGS && !l; i++)
    if (__atomic_load_n(&listings[i].dir, __ATOMIC_ACQUIRE) == dir) l = &listings[i];
  if (!l) return e;
  int32_t v = amber_pid_s2v((int32_t)strtol(e->d_name, NULL, 10));
  if (v <= 0) return e;
  /* the record may be shorter than the struct: copy its fixed part, name the copy */
  memcpy(&l->entry, e, offsetof(struct dirent64, d_name));
  snprintf(l->entry.d_name, sizeof l->entry.d_name, "%d", v);
  return &l->entry;
}
