/* Whether a process is alive: it exists and is not a zombie waiting to be reaped (init on
 * these machines reaps late, so a dead supervisor can linger as a zombie). */
#ifndef AMBER_PROC_H
#define AMBER_PROC_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline int amber_pid_alive(int pid) {
  if (pid <= 0 || (kill(pid, 0) != 0 && errno != EPERM)) return 0;
  char path[64], stat[512];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, stat, sizeof stat - 1);
  close(fd);
  if (n <= 0) return 0;
  stat[n] = 0;
  const char *end = strrchr(stat, ')');
  return !(end && end[1] == ' ' && (end[2] == 'Z' || end[2] == 'X'));
}

/* A zombie's parent and wait status (from /proc/<pid>/stat); 1 if pid is a zombie. */
static inline int amber_zombie(int pid, int *ppid, int *status) {
  char path[64], stat[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, stat, sizeof stat - 1);
  close(fd);
  if (n <= 0) return 0;
  stat[n] = 0;
  const char *p = strrchr(stat, ')');
  if (!p || p[1] != ' ' || p[2] != 'Z') return 0;
  /* fields from 3 (state): ppid is 4, exit_code is 52 */
  long field[53] = {0};
  p += 4;
  for (int f = 4; f <= 52 && *p; f++) {
    field[f] = strtol(p, (char **)&p, 10);
    while (*p == ' ') p++;
  }
  *ppid = (int)field[4];
  *status = (int)field[52];
  return 1;
}

#endif
