/* A producer and a consumer joined by a pipe, with bytes in flight when the snapshot lands:
 * after the restore no number is lost or repeated, and the parent reaps the consumer. */
#include <stdint.h>
#include <sys/wait.h>

#include "check.h"
#include "wait_go.h"

#define TOTAL 200000

static int read_number(int fd, uint32_t *n) {
  size_t got = 0;
  while (got < sizeof *n) {
    ssize_t r = read(fd, (char *)n + got, sizeof *n - got);
    if (r <= 0) return 0;
    got += r;
  }
  return 1;
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: pipe_stream DIR");
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  pid_t child = fork();
  CHECK(child >= 0, "fork");
  if (child == 0) {
    close(p[1]);
    uint32_t expect = 0, n;
    for (; expect < 1000; expect++) CHECK(read_number(p[0], &n) && n == expect, "early %u", n);
    say_ready();
    wait_go(argv[1]);
    while (read_number(p[0], &n)) {
      CHECK(n == expect, "got %u, expected %u", n, expect);
      expect++;
    }
    CHECK(expect == TOTAL, "only %u numbers arrived", expect);
    printf("PASS\n");
    return 0;
  }
  close(p[0]);
  for (uint32_t i = 0; i < TOTAL; i++) CHECK(write(p[1], &i, sizeof i) == sizeof i, "write");
  close(p[1]);
  int status;
  CHECK(waitpid(child, &status, 0) == child, "waitpid");
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
