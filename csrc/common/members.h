/* Which processes belong to an application. The tables are written by the application's own
 * processes, so a pid read there proves nothing: a process that dropped its privileges could
 * write any pid (init's, sshd's) and have root's `amber kill` or snapshot signal it. What proves
 * membership is ancestry: every process of the application descends from its supervisor, the
 * subreaper of the tree (orphans come back to it). The supervisor writes who it is (pid and
 * start time, against pid reuse) into SUPERVISOR_FILE in the application's directory, where
 * only the application's owner may write. */
#ifndef AMBER_MEMBERS_H
#define AMBER_MEMBERS_H

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"

#define AMBER_SUPERVISOR_FILE "supervisor"

/* Field `n` (1-based, as proc(5) numbers them; n >= 3) of /proc/<pid>/stat; -1 if none. */
static inline long long amber_proc_stat_field(int pid, int n) {
  char buf[1024];
  const char *p = amber_proc_stat(pid, buf, sizeof buf);
  for (int f = 3; p && *p && f < n; f++) {
    while (*p && *p != ' ') p++;
    while (*p == ' ') p++;
  }
  return p && *p ? strtoll(p, NULL, 10) : -1;
}

/* The boot clock's offset of the reader's time namespace, in clock ticks (USER_HZ, 100). */
static inline long long amber_boottime_offset_ticks(void) {
  char text[256];
  int fd = open("/proc/self/timens_offsets", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0; /* no time namespaces (before Linux 5.6) */
  ssize_t n = read(fd, text, sizeof text - 1);
  close(fd);
  text[n > 0 ? n : 0] = 0;
  const char *line = strstr(text, "boottime");
  if (!line) return 0;
  char *end;
  long long seconds = strtoll(line + 8, &end, 10), nanoseconds = strtoll(end, NULL, 10);
  return seconds * 100 + nanoseconds / 10000000;
}

/* When `pid` started (stat field 22), as the computer's own boot clock counts: the field reads
 * in the reader's time namespace, and a supervisor started in one (a restore there) is checked
 * from outside it too. */
static inline long long amber_proc_start_time(int pid) {
  long long start = amber_proc_stat_field(pid, 22);
  return start < 0 ? start : start - amber_boottime_offset_ticks();
}

/* 1 if `pid` descends from the process `supervisor` started at `start` (amber_proc_start_time). */
static inline int amber_descends_from(int pid, int supervisor, long long start) {
  if (supervisor <= 1 || amber_proc_start_time(supervisor) != start) return 0;
  for (int depth = 0; pid > 1 && depth < 256; depth++) {
    long long parent = amber_proc_stat_field(pid, 4);
    if (parent == supervisor) return 1;
    pid = (int)parent;
  }
  return 0;
}

#endif
