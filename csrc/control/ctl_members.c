/* The control side's check that a pid read from an application's tables is a process of that
 * application (common/members.h) before it signals it or hands it anything. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/members.h"
#include "../common/table.h"
#include "control.h"

#define MAX_OPEN 64

/* Each open table's application directory, from the path it was opened by. */
static struct {
  const void *table;
  char dir[4096];
} open_tables[MAX_OPEN];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

void amber_members_opened(const void *table, const char *tables_path) {
  pthread_mutex_lock(&lock);
  for (int i = 0; i < MAX_OPEN; i++)
    if (!open_tables[i].table) {
      open_tables[i].table = table;
      snprintf(open_tables[i].dir, sizeof open_tables[i].dir, "%s", tables_path);
      char *slash = strrchr(open_tables[i].dir, '/');
      if (slash) *slash = 0;
      else snprintf(open_tables[i].dir, sizeof open_tables[i].dir, ".");
      break;
    }
  pthread_mutex_unlock(&lock);
}

void amber_members_closed(const void *table) {
  pthread_mutex_lock(&lock);
  for (int i = 0; i < MAX_OPEN; i++)
    if (open_tables[i].table == table) open_tables[i].table = NULL;
  pthread_mutex_unlock(&lock);
}

/* The supervisor's pid and start time, from its file in `dir`, which must be this user's. */
int amber_supervisor_in(const char *dir, int *pid, long long *start) {
  char path[4200];
  if (snprintf(path, sizeof path, "%s/%s", dir, AMBER_SUPERVISOR_FILE) >= (int)sizeof path)
    return -1;
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat st;
  char text[64] = "";
  int ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
           read(fd, text, sizeof text - 1) > 0;
  close(fd);
  return ok && sscanf(text, "%d %lld", pid, start) == 2 ? 0 : -1;
}

/* The supervisor of the application whose tables are `table`. */
static int supervisor_of(const void *table, int *pid, long long *start) {
  char dir[4200] = "";
  pthread_mutex_lock(&lock);
  for (int i = 0; i < MAX_OPEN; i++)
    if (open_tables[i].table == table) snprintf(dir, sizeof dir, "%s", open_tables[i].dir);
  pthread_mutex_unlock(&lock);
  return dir[0] ? amber_supervisor_in(dir, pid, start) : -1;
}

int amber_app_member(const void *table, int32_t pid) {
  int supervisor;
  long long start;
  if (pid <= 1 || supervisor_of(table, &supervisor, &start)) return 0;
  return amber_descends_from(pid, supervisor, start);
}

__attribute__((visibility("default"))) int32_t amber_ctl_app_member(void *table, int32_t pid) {
  return amber_app_member(table, pid);
}
