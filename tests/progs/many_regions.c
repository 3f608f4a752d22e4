/* 20000 memory regions (pages alternately read-write and read-only, each with its own bytes):
 * more than any fixed cap on regions would hold. After the restore each region is there with
 * its protection and its bytes. */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "check.h"
#include "wait_go.h"

#define REGIONS 20000
#define PAGE 4096

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: many_regions DIR");
  char *base = mmap(NULL, (size_t)REGIONS * PAGE, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(base != MAP_FAILED, "mmap");
  for (int i = 0; i < REGIONS; i++) memset(base + (size_t)i * PAGE, i % 251 + 1, PAGE);
  for (int i = 1; i < REGIONS; i += 2)
    CHECK(mprotect(base + (size_t)i * PAGE, PAGE, PROT_READ) == 0, "mprotect %d", i);
  say_ready();
  wait_go(argv[1]);
  for (int i = 0; i < REGIONS; i++)
    for (int k = 0; k < PAGE; k += 512)
      CHECK(base[(size_t)i * PAGE + k] == (char)(i % 251 + 1), "region %d byte %d", i, k);
  FILE *maps = fopen("/proc/self/maps", "r");
  CHECK(maps != NULL, "maps");
  char line[512];
  int seen = 0;
  uintptr_t from = (uintptr_t)base, to = from + (size_t)REGIONS * PAGE;
  while (fgets(line, sizeof line, maps)) {
    unsigned long start, end;
    char perms[8];
    if (sscanf(line, "%lx-%lx %7s", &start, &end, perms) != 3 || end <= from || start >= to)
      continue;
    /* The first and last may have merged with a neighbour of the same protection. */
    if (start < from) start = from;
    if (end > to) end = to;
    int i = (int)((start - from) / PAGE);
    CHECK(end - start == PAGE, "region %d is %lu bytes", i, end - start);
    CHECK(!strcmp(perms, i % 2 ? "r--p" : "rw-p"), "region %d is %s", i, perms);
    seen++;
  }
  CHECK(seen == REGIONS, "%d regions, not %d", seen, REGIONS);
  printf("PASS\n");
  return 0;
}
