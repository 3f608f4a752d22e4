/* What the SCM_CREDENTIALS test programs share (raw_creds.c, creds_send.c): a one-byte message
 * with room for credentials, and how many seccomp filters the process has. */
#ifndef AMBER_TEST_CREDS_MSG_H
#define AMBER_TEST_CREDS_MSG_H

#include <stdio.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "check.h"

/* Seccomp_filters of /proc/self/status. */
static int filters(void) {
  char line[256];
  int n = -1;
  FILE *f = fopen("/proc/self/status", "r");
  CHECK(f, "open /proc/self/status");
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "Seccomp_filters: %d", &n) == 1) break;
  fclose(f);
  return n;
}

struct creds_msg {
  struct msghdr m;
  struct iovec iov;
  char byte;
  union {
    char buf[CMSG_SPACE(sizeof(struct ucred))];
    struct cmsghdr align;
  } ctl;
};

#endif
