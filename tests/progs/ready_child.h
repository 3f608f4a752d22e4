/* A child that sets itself up, says it is ready over a pipe, then waits for <dir>/go and checks
 * what it must: fork_ready forks it, runs child(dir, ready) in it (which writes one byte on
 * `ready` once set up and returns its exit status), and returns once it is ready. */
#ifndef AMBER_TEST_READY_CHILD_H
#define AMBER_TEST_READY_CHILD_H

#include <stdlib.h>
#include <unistd.h>

#include "check.h"

static inline pid_t fork_ready(int (*child)(const char *dir, int ready), const char *dir) {
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  pid_t pid = fork();
  CHECK(pid >= 0, "fork");
  if (pid == 0) exit(child(dir, p[1]));
  char c;
  CHECK(read(p[0], &c, 1) == 1, "the child's readiness");
  close(p[0]);
  close(p[1]);
  return pid;
}

#endif
