/* Allocates and touches N MiB of memory with a pattern (with a second argument "zero": with
 * zeros, every page written), says "ready", then idles: the application that the snapshot and
 * restore benchmarks freeze. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
  size_t words = mib << 17;
  uint64_t *p = malloc(words * 8), x = 88172645463325252ULL;
  if (!p) return 1;
  if (argc > 2 && !strcmp(argv[2], "zero")) memset(p, 0, words * 8);
  else
    for (size_t i = 0; i < words; i++) x ^= x << 13, x ^= x >> 7, x ^= x << 17, p[i] = x;
  printf("ready\n");
  fflush(stdout);
  for (;;) pause();
}
