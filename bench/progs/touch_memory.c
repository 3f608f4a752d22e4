/* Allocates and touches N MiB of memory with a pattern, says "ready", then idles: the
 * application that the snapshot and restore benchmark freezes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
  size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
  size_t words = mib << 17;
  uint64_t *p = malloc(words * 8), x = 88172645463325252ULL;
  if (!p) return 1;
  for (size_t i = 0; i < words; i++) x ^= x << 13, x ^= x >> 7, x ^= x << 17, p[i] = x;
  printf("ready\n");
  fflush(stdout);
  for (;;) pause();
}
