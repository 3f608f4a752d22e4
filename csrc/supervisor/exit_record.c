/* A detached application that ends leaves a record of how and when, for `amber ps` and the
 * API (src/exited.ts), until it is removed: <state>/exited/<name>.json, beside <state>/apps/. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "supervisor.h"

void sup_write_exit_record(const char *app_dir, int status, const char *error) {
  char state[4096], dir[4200], path[4400], tmp[4500];
  snprintf(state, sizeof state, "%s", app_dir);
  char *name = strrchr(state, '/');
  if (!name) return;
  *name++ = 0; /* state: <state>/apps */
  char *apps = strrchr(state, '/');
  if (!apps) return;
  *apps = 0;
  snprintf(dir, sizeof dir, "%s/exited", state);
  mkdir(dir, 0700);
  snprintf(path, sizeof path, "%s/%s.json", dir, name);
  snprintf(tmp, sizeof tmp, "%s.tmp-%d", path, (int)getpid());
  char at[32];
  time_t now = time(NULL);
  struct tm tm;
  strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
  int code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
  char signal[32] = "";
  if (WIFSIGNALED(status)) snprintf(signal, sizeof signal, ", \"signal\": %d", WTERMSIG(status));
  char why[320] = ""; /* Amber's own text: no quote or backslash to escape */
  if (error) snprintf(why, sizeof why, ", \"error\": \"%s\"", error);
  char text[512];
  int n =
      snprintf(text, sizeof text, "{\"at\": \"%s\", \"code\": %d%s%s}\n", at, code, signal, why);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  int ok = write(fd, text, n) == n;
  close(fd);
  if (!ok || rename(tmp, path)) unlink(tmp);
}
