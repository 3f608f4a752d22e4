/* Fills N MiB of memory with random data (as touch_memory), says "ready", then counts as fast
 * as it can, reading the monotonic clock each time: a gap between two counts longer than 1 ms
 * (the process was frozen, or not scheduled) is printed once it ends, "gap <ms>". The
 * application whose frozen time, as it sees it, bench/cow_freeze.ts measures. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int main(int argc, char **argv) {
  size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
  size_t words = mib << 17;
  uint64_t *p = malloc(words * 8), x = 88172645463325252ULL;
  if (!p) return 1;
  for (size_t i = 0; i < words; i++) x ^= x << 13, x ^= x >> 7, x ^= x << 17, p[i] = x;
  printf("ready\n");
  fflush(stdout);
  volatile uint64_t count = 0;
  for (int64_t last = now_ns();; count++) {
    int64_t t = now_ns();
    if (t - last > 1000000) {
      printf("gap %.3f\n", (t - last) / 1e6);
      fflush(stdout);
      t = now_ns();
    }
    last = t;
  }
}
