/* Which processes belong to an application. The tables are written by the application's own
 * processes, so a pid read there proves nothing: a process that dropped its privileges could
 * write any pid (init's, sshd's) and have root's `amber kill` or snapshot signal it. What proves
 * membership is ancestry: every process of the application descends from its supervisor, the
 * subreaper of the tree (orphans come back to it). The supervisor writes who it is (pid and
 * start time, against pid reuse) into SUPERVISOR_FILE in the application's directory, where
 * only the application's owner may write. */
#ifndef AMBER_MEMBERS_H
#define AMBER_MEMBERS_H

#include <stdint.h>

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

/* 1 if `pid` descends from the process `supervisor` started at `start` (its stat field 22). */
static inline int amber_descends_from(int pid, int supervisor, long long start) {
  if (supervisor <= 1 || amber_proc_stat_field(supervisor, 22) != start) return 0;
  for (int depth = 0; pid > 1 && depth < 256; depth++) {
    long long parent = amber_proc_stat_field(pid, 4);
    if (parent == supervisor) return 1;
    pid = (int)parent;
  }
  return 0;
}

#endif
