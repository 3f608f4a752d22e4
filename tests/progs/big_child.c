/* A parent and a child whose memory is large (MiB given), every page written, so that a restore
 * spends a while reading the child's pages back: long enough for a test to end the child before
 * its restore is over. With "root", the parent's memory is the large one instead. Says "ready"
 * once the memory is written, then sleeps.
 *
 *   big_child MIB [root] */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "check.h"
#include "wait_go.h"

int main(int argc, char **argv) {
  CHECK(argc == 2 || argc == 3, "usage: big_child MIB [root]");
  size_t len = (size_t)atol(argv[1]) << 20;
  if (argc == 3) { /* the root holds it */
    char *memory = malloc(len);
    CHECK(memory != NULL, "malloc");
    for (size_t i = 0; i < len; i += 4096) memset(memory + i, (int)(i >> 12) | 1, 4096);
    len = 4096;
  }
  int ready[2];
  CHECK(pipe(ready) == 0, "pipe");
  pid_t child = fork();
  CHECK(child >= 0, "fork");
  if (child == 0) {
    char *memory = malloc(len);
    CHECK(memory != NULL, "malloc");
    for (size_t i = 0; i < len; i += 4096) memset(memory + i, (int)(i >> 12) | 1, 4096);
    CHECK(write(ready[1], "x", 1) == 1, "tell the parent");
    for (;;) pause();
  }
  char c;
  CHECK(read(ready[0], &c, 1) == 1, "the child's memory");
  say_ready();
  for (;;) pause();
}
