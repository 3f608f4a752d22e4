/* Fills N MiB of heap (default 256) with a pseudo-random pattern and checks every byte of it
 * after the restore, plus a checksum taken before. With a third argument, it first waits for
 * <dir>/change, then rewrites 1 MiB in the middle (for incremental snapshots), says "changed",
 * and checks that MiB's new contents after the restore too. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "wait_go.h"

static uint64_t next(uint64_t *s) {
  *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
  return *s;
}

int main(int argc, char **argv) {
  CHECK(argc >= 2, "usage: heap_pattern DIR [MiB]");
  size_t mib = argc > 2 ? strtoul(argv[2], NULL, 10) : 256;
  size_t words = mib * 1024 * 1024 / 8;
  uint64_t *heap = malloc(words * 8);
  CHECK(heap, "malloc");
  uint64_t seed = 0x9e3779b97f4a7c15ULL, sum = 0;
  for (size_t i = 0; i < words; i++) sum += heap[i] = next(&seed);
  say_ready();
  size_t changed_from = words / 2, changed_to = words / 2 + (1 << 17); /* 1 MiB of words */
  int change = argc > 3;
  if (change) {
    char path[4096];
    snprintf(path, sizeof path, "%s/change", argv[1]);
    while (access(path, F_OK) != 0) usleep(10000);
    for (size_t i = changed_from; i < changed_to; i++) heap[i] = ~heap[i];
    printf("changed\n");
    fflush(stdout);
  }
  wait_go(argv[1]);
  uint64_t check = 0x9e3779b97f4a7c15ULL, again = 0;
  for (size_t i = 0; i < words; i++) {
    uint64_t want = next(&check);
    if (change && i >= changed_from && i < changed_to) want = ~want, sum += want - ~want;
    CHECK(heap[i] == want, "word %zu is %llx, expected %llx", i, (unsigned long long)heap[i],
          (unsigned long long)want);
    again += heap[i];
  }
  CHECK(again == sum, "checksum differs");
  free(heap);
  printf("PASS\n");
  return 0;
}
