/* Fills N MiB with random data, says "ready", then for each <dir>/round<K> (K = 1, 2, ...)
 * writes 1% of its pages, scattered (every 100th page, shifted each round), and says "written
 * K": the application of the incremental snapshot benchmark (bench/dirty_pages.ts). While it
 * waits it counts as fast as it can, reading the monotonic clock: a gap between two counts
 * longer than 1 ms (it was frozen, or not scheduled) is printed, "gap <ms>" (as gap_counter.c). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void wait_counting(const char *path) {
  for (int64_t last = now_ns(), n = 0;; n++) {
    int64_t t = now_ns();
    if (t - last > 1000000) {
      printf("gap %.3f\n", (t - last) / 1e6);
      fflush(stdout);
      t = now_ns();
    }
    last = t;
    if (n % 65536 == 0 && access(path, F_OK) == 0) return;
  }
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  size_t mib = strtoul(argv[2], NULL, 10), pages = mib * 256;
  uint64_t *p = aligned_alloc(4096, mib << 20), x = 88172645463325252ULL;
  if (!p) return 1;
  for (size_t i = 0; i < mib << 17; i++) x ^= x << 13, x ^= x >> 7, x ^= x << 17, p[i] = x;
  printf("ready\n");
  fflush(stdout);
  for (unsigned k = 1;; k++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/round%u", argv[1], k);
    wait_counting(path);
    for (size_t page = k % 100; page < pages; page += 100) p[page * 512 + k % 512] ^= x + k;
    printf("written %u\n", k);
    fflush(stdout);
  }
}
