/* The tail of a shell pipeline: reads numbers one a line and checks none is lost or repeated
 * across the snapshot and restore of the whole pipeline. */
#include <stdlib.h>

#include "check.h"
#include "wait_go.h"

int main(int argc, char **argv) {
  CHECK(argc == 3, "usage: seqcheck DIR N");
  long total = atol(argv[2]), expect = 0, n;
  while (scanf("%ld", &n) == 1) {
    CHECK(n == expect, "got %ld, expected %ld", n, expect);
    if (++expect == 1000) {
      say_ready();
      wait_go(argv[1]);
    }
  }
  CHECK(expect == total, "%ld numbers arrived of %ld", expect, total);
  printf("PASS\n");
  return 0;
}
