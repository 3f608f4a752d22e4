/* Reads that test programs share: a whole number from a stream, and a check that nothing more
 * is waiting on a socket. */
#ifndef AMBER_TEST_IO_CHECKS_H
#define AMBER_TEST_IO_CHECKS_H

#include <errno.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"

/* 1 with the next 4 bytes of fd in *n, 0 at end of file or on an error. */
static inline int read_number(int fd, uint32_t *n) {
  size_t got = 0;
  while (got < sizeof *n) {
    ssize_t r = read(fd, (char *)n + got, sizeof *n - got);
    if (r <= 0) return 0;
    got += r;
  }
  return 1;
}

static inline void expect_nothing(int fd, const char *what) {
  char buf[16];
  ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
  CHECK(n < 0 && errno == EAGAIN, "%s: %zd more bytes (errno %d), expected none", what, n, errno);
}

#endif
