/* A pseudo-terminal made in the test program, and a forked child that uses its slave (found
 * by name in $PTY_NAME): the child runs child(dir, master, ready) and writes a byte to `ready`
 * once set up; pty_child returns its pid then. */
#ifndef AMBER_TEST_PTY_CHILD_H
#define AMBER_TEST_PTY_CHILD_H

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"

static inline pid_t pty_child(const char *dir, int *master,
                              void (*child)(const char *dir, int master, int ready)) {
  *master = posix_openpt(O_RDWR | O_NOCTTY);
  CHECK(*master >= 0 && grantpt(*master) == 0 && unlockpt(*master) == 0, "openpt: errno %d",
        errno);
  setenv("PTY_NAME", ptsname(*master), 1);
  int ready[2];
  CHECK(pipe(ready) == 0, "pipe");
  pid_t kid = fork();
  CHECK(kid >= 0, "fork");
  if (kid == 0) child(dir, *master, ready[1]);
  char c;
  CHECK(read(ready[0], &c, 1) == 1, "the child is not ready");
  return kid;
}

#endif
