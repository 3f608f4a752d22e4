/* Fills N MiB of memory with random data (as touch_memory; "zero" as the second argument: with
 * zeros, every page written), says "ready", then counts as fast as it can, reading the
 * monotonic clock each time: a gap between two counts longer than 1 ms (the process was frozen,
 * or not scheduled) is printed once it ends, "gap <ms>". The application whose frozen time, as
 * it sees it, bench/cow_freeze.ts and bench/issue_targets.ts measure. With a directory as the
 * third argument it also looks, every 10 ms, for <dir>/round<K> (K = 1, 2, ...): then it writes
 * 1% of its pages (every 100th, shifted each round, as bench/progs/dirty_rounds.c) and says
 * "written K", the time that takes not counted as a gap. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int main(int argc, char **argv) {
  size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
  size_t words = mib << 17, pages = mib * 256;
  uint64_t *p = aligned_alloc(4096, words * 8), x = 88172645463325252ULL;
  if (!p) return 1;
  volatile int zero = 0; /* not known to be 0: the fill would not be done */
  for (size_t i = 0; i < words; i++) x ^= x << 13, x ^= x >> 7, x ^= x << 17, p[i] = x;
  if (argc > 2 && !strcmp(argv[2], "zero")) memset(p, zero, words * 8);
  const char *rounds = argc > 3 ? argv[3] : NULL;
  printf("ready\n");
  fflush(stdout);
  volatile uint64_t count = 0;
  unsigned k = 1;
  int64_t next_look = now_ns();
  for (int64_t last = now_ns();; count++) {
    int64_t t = now_ns();
    if (t - last > 1000000) {
      printf("gap %.3f\n", (t - last) / 1e6);
      fflush(stdout);
      t = now_ns();
    }
    if (rounds && t >= next_look) {
      char path[4096];
      snprintf(path, sizeof path, "%s/round%u", rounds, k);
      if (access(path, F_OK) == 0) {
        for (size_t page = k % 100; page < pages; page += 100) p[page * 512 + k % 512] ^= x + k;
        printf("written %u\n", k++);
        fflush(stdout);
      }
      t = now_ns();
      next_look = t + 10000000;
    }
    last = t;
  }
}
