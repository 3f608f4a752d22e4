/* Allocates and touches N MiB of memory with a pattern (with a second argument "zero": then
 * zeros, every page written; "sparse": every other page zeros), says "ready", then idles: the
 * application that the snapshot and restore benchmarks freeze. */
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
  const char *data = argc > 2 ? argv[2] : "random";
  volatile int zero = 0; /* not known to be 0: malloc and memset would become calloc */
  for (size_t i = 0; i < words; i++) x ^= x << 13, x ^= x >> 7, x ^= x << 17, p[i] = x;
  if (!strcmp(data, "zero")) memset(p, zero, words * 8);
  if (!strcmp(data, "sparse")) /* every other page zeros: runs of one page */
    for (size_t i = (4096 - (uintptr_t)p % 4096) / 8; i + 512 <= words; i += 1024)
      memset(p + i, zero, 4096);
  printf("ready\n");
  fflush(stdout);
  for (;;) pause();
}
