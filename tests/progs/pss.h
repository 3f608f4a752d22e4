/* A process's proportional set size (Pss, KiB): what it costs the machine, shared pages split
 * among the processes that map them. Tests of copy-on-write sharing add these up. */
#ifndef AMBER_TEST_PSS_H
#define AMBER_TEST_PSS_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

static long pss_kb(pid_t pid) {
  char path[64], text[4096];
  snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
  int fd = open(path, O_RDONLY);
  CHECK(fd >= 0, "open %s", path);
  long n = read(fd, text, sizeof text - 1);
  close(fd);
  CHECK(n > 0, "read %s", path);
  text[n] = 0;
  const char *p = strstr(text, "\nPss:");
  CHECK(p, "no Pss in %s", path);
  return strtol(p + 5, NULL, 10);
}

#endif
