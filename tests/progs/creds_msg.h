/* What the SCM_CREDENTIALS test programs share (raw_creds.c, creds_send.c): a one-byte message
 * with room for credentials, made, and how many seccomp filters the process has. */
#ifndef AMBER_TEST_CREDS_MSG_H
#define AMBER_TEST_CREDS_MSG_H

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

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

/* A one-byte message, with credentials naming `pid` when pid != 0. */
static void make_msg(struct creds_msg *c, pid_t pid) {
  memset(c, 0, sizeof *c);
  c->byte = 'x';
  c->iov.iov_base = &c->byte;
  c->iov.iov_len = 1;
  c->m.msg_iov = &c->iov;
  c->m.msg_iovlen = 1;
  c->m.msg_control = c->ctl.buf;
  c->m.msg_controllen = sizeof c->ctl.buf;
  if (!pid) return;
  struct cmsghdr *h = CMSG_FIRSTHDR(&c->m);
  h->cmsg_level = SOL_SOCKET;
  h->cmsg_type = SCM_CREDENTIALS;
  h->cmsg_len = CMSG_LEN(sizeof(struct ucred));
  struct ucred u = {pid, getuid(), getgid()};
  memcpy(CMSG_DATA(h), &u, sizeof u);
}

#endif
