/* A producer and a consumer joined by a pipe, with bytes in flight when the snapshot lands:
 * after the restore no number is lost or repeated, and the parent reaps the consumer. With
 * "trickle", the producer writes one number every 100 us, so it is running, not blocked on a
 * full pipe, when the processes freeze one after the other. */
#include <stdint.h>
#include <sys/wait.h>

#include "check.h"
#include "io_checks.h"
#include "wait_go.h"

#define TOTAL 200000


static int consume(int fd, const char *dir) {
  uint32_t expect = 0, n;
  for (; expect < 1000; expect++) CHECK(read_number(fd, &n) && n == expect, "early %u", n);
  say_ready();
  wait_go(dir);
  while (read_number(fd, &n)) {
    CHECK(n == expect, "got %u, expected %u", n, expect);
    expect++;
  }
  CHECK(expect == TOTAL, "only %u numbers arrived", expect);
  printf("PASS\n");
  return 0;
}

static void produce(int fd, int trickle) {
  for (uint32_t i = 0; i < TOTAL; i++) {
    CHECK(write(fd, &i, sizeof i) == sizeof i, "write");
    if (trickle && i < 20000) usleep(100);
  }
  close(fd);
}

int main(int argc, char **argv) {
  CHECK(argc == 2 || argc == 3, "usage: pipe_stream DIR [trickle]");
  /* Trickling, the consumer is the parent: it freezes first, while the producer still writes. */
  int trickle = argc == 3;
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  pid_t child = fork();
  CHECK(child >= 0, "fork");
  if (child == 0) {
    close(p[trickle ? 0 : 1]);
    if (!trickle) return consume(p[0], argv[1]);
    produce(p[1], 1);
    return 0;
  }
  close(p[trickle ? 1 : 0]);
  int result = 0;
  if (trickle) result = consume(p[0], argv[1]);
  else produce(p[1], 0);
  int status;
  CHECK(waitpid(child, &status, 0) == child, "waitpid");
  return result ? result : WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
