/* What /proc/<pid>/stat says of a process: whether it is alive (it exists and is not a zombie
 * waiting to be reaped: init on these machines reaps late, so a dead supervisor can linger as
 * a zombie), and a zombie's parent and wait status. */
#ifndef AMBER_PROC_H
#define AMBER_PROC_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The fields after the command name ("S 1 ..."), read into buf; NULL if there is no such pid. */
static inline const char *amber_proc_stat(int pid, char *buf, size_t cap) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  ssize_t n = read(fd, buf, cap - 1);
  close(fd);
  if (n <= 0) return NULL;
  buf[n] = 0;
  const char *end = strrchr(buf, ')'); /* the last ')' ends the command name */
  return end && end[1] == ' ' ? end + 2 : NULL;
}

/* /proc/<pid>/status into buf (empty if there is no such pid); the bytes read, or <= 0. */
static inline ssize_t amber_proc_status(int pid, char *buf, size_t cap) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/status", pid);
  buf[0] = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, cap - 1);
  close(fd);
  buf[n > 0 ? n : 0] = 0;
  return n;
}

/* One line of /proc/<pid>/status text, e.g. "SigBlk:\t0000000020000000" -> its value; 0 if
 * there is no such line. */
static inline unsigned long long amber_status_field(const char *status, const char *name, int base) {
  const char *p = strstr(status, name);
  return p ? strtoull(p + strlen(name), NULL, base) : 0;
}

/* A main thread that called pthread_exit shows as a zombie while its other threads run on:
 * the process is alive while /proc/<pid>/status counts more than that one thread. */
static inline int amber_threads_run_on(int pid) {
  char buf[2048];
  if (amber_proc_status(pid, buf, sizeof buf) <= 0) return 0;
  const char *threads = strstr(buf, "\nThreads:");
  return threads && strtol(threads + 9, NULL, 10) > 1;
}

static inline int amber_pid_alive(int pid) {
  if (pid <= 0 || (kill(pid, 0) != 0 && errno != EPERM)) return 0;
  char buf[1024];
  const char *fields = amber_proc_stat(pid, buf, sizeof buf);
  if (fields && *fields == 'Z') return amber_threads_run_on(pid);
  return fields && *fields != 'X';
}

/* Whether pid has surely ended: no such process, or its /proc entry, read, says so (a failed
 * read proves nothing). */
static inline int amber_pid_gone(int pid) {
  if (pid <= 0 || (kill(pid, 0) != 0 && errno == ESRCH)) return 1;
  char buf[1024];
  const char *fields = amber_proc_stat(pid, buf, sizeof buf);
  if (!fields) return kill(pid, 0) != 0 && errno == ESRCH;
  return *fields == 'X' || (*fields == 'Z' && !amber_threads_run_on(pid));
}

/* A zombie's parent and wait status; 1 if pid is a zombie. */
static inline int amber_zombie(int pid, int *ppid, int *status) {
  char buf[1024];
  const char *p = amber_proc_stat(pid, buf, sizeof buf);
  if (!p || *p != 'Z' || amber_threads_run_on(pid)) return 0;
  long field[53] = {0}; /* numbered from 3 (the state): ppid is 4, exit_code is 52 */
  p += 2;
  for (int f = 4; f <= 52 && *p; f++) {
    field[f] = strtol(p, (char **)&p, 10);
    while (*p == ' ') p++;
  }
  *ppid = (int)field[4];
  *status = (int)field[52];
  return 1;
}

#endif
