/* Two mappings of data side by side (one mapping split in two by madvise(MADV_DONTDUMP), which
 * the kernel does not merge back), each page different: a pre-copy copies the first and goes on
 * into the second with no gap in the image file. It prints "unreadable <address>", 1 MiB into
 * the second, for the test to make the pre-copy fail there (AMBER_TEST_PRECOPY_UNREADABLE), as
 * when a program unmaps memory the pre-copy is reading. After <dir>/go it checks every page. */
#include <stdint.h>
#include <sys/mman.h>

#include "check.h"
#include "wait_go.h"

#define HALF (4u << 20)

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: adjacent_regions DIR");
  uint64_t *mem = mmap(NULL, 2 * HALF, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(mem != MAP_FAILED, "mmap");
  size_t words = 2 * HALF / 8;
  for (size_t i = 0; i < words; i++) mem[i] = i * 0x9e3779b97f4a7c15ull + 1;
  CHECK(madvise((char *)mem + HALF, HALF, MADV_DONTDUMP) == 0, "madvise");
  printf("unreadable %lx\n", (unsigned long)((char *)mem + HALF + (1u << 20)));
  say_ready();
  wait_go(argv[1]);
  for (size_t i = 0; i < words; i++)
    CHECK(mem[i] == i * 0x9e3779b97f4a7c15ull + 1, "word %zu of the memory differs", i);
  printf("PASS\n");
  fflush(stdout);
  return 0;
}
