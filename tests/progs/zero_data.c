/* MiB megabytes of private memory, every page written with zeros (there, holding zeros), as a
 * program that allocated and cleared its buffers holds: its image must stay small whatever the
 * size. After the restore it checks the memory is all zeros, then uses it (a word written in
 * every page, read back). Usage: zero_data DIR MIB */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "check.h"
#include "wait_go.h"

#define PAGE 4096

int main(int argc, char **argv) {
  CHECK(argc == 3, "usage: zero_data DIR MIB");
  size_t len = (size_t)atol(argv[2]) << 20;
  uint8_t *p = mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(p != MAP_FAILED, "mmap");
  volatile int zero = 0; /* not known to be 0: the writes stay */
  memset(p, zero, len);
  say_ready();
  wait_go(argv[1]);
  for (size_t off = 0; off < len; off += 8)
    CHECK(*(const uint64_t *)(p + off) == 0, "the word at %zu is %llx, not zero", off,
          (unsigned long long)*(const uint64_t *)(p + off));
  for (size_t off = 0; off < len; off += PAGE) *(uint64_t *)(p + off + 64) = off ^ 0x5eed;
  for (size_t off = 0; off < len; off += PAGE)
    CHECK(*(const uint64_t *)(p + off + 64) == (off ^ 0x5eed), "the word written at %zu", off);
  printf("PASS\n");
  return 0;
}
