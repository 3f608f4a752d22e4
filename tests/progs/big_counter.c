/* Touches N MiB, then prints a rising count every 50 ms: an application whose snapshot takes
 * long enough for the tests to interrupt it. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"

int main(int argc, char **argv) {
  size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 512;
  char *p = malloc(mib << 20);
  CHECK(p, "malloc");
  /* Not zeros: a page of zeros is not written to an image. */
  for (size_t i = 0; i < mib << 20; i += 4096) p[i] = (char)(1 + (i >> 12) % 255);
  for (long count = 0;; count++) {
    printf("tick %ld\n", count);
    fflush(stdout);
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}
