/* The copies that write a copy-on-write snapshot's process files (csrc/preload/agent/agent_cow.c)
 * are the supervisor's children, orphaned to it, but no part of the application: once they are
 * all that is left, the application has ended, and the supervisor does not wait for them (they
 * finish their files on their own, the table still mapped). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

#include "supervisor.h"

static int is_writer(const struct amber_table *t, long pid) {
  for (int i = 0; i < AMBER_CTL_MAX_PROCS; i++)
    if (__atomic_load_n(&t->cow_writer[i], __ATOMIC_ACQUIRE) == pid) return 1;
  return 0;
}

int sup_only_writers_left(const struct amber_table *t) {
  DIR *tasks = opendir("/proc/self/task");
  if (!tasks) return 0;
  int others = 0, writers = 0;
  for (struct dirent *e; !others && (e = readdir(tasks));) {
    if (e->d_name[0] == '.') continue;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%s/children", e->d_name);
    FILE *f = fopen(path, "r");
    if (!f) {
      others = 1; /* unknown: wait as before */
      break;
    }
    for (long pid; fscanf(f, "%ld", &pid) == 1;) is_writer(t, pid) ? writers++ : others++;
    fclose(f);
  }
  closedir(tasks);
  return writers > 0 && !others;
}
