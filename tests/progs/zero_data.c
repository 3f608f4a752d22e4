/* MiB megabytes of private memory, every page written with zeros (there, holding zeros), as a
 * program that allocated and cleared its buffers holds: its image must stay small whatever the
 * size. With "sparse", one word of every page is not zero (each page is saved, packed). After
 * the restore it checks the memory, then uses it (a word written in every page, read back).
 * Usage: zero_data DIR MIB [sparse] */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "check.h"
#include "wait_go.h"

#define PAGE 4096

int main(int argc, char **argv) {
  CHECK(argc == 3 || argc == 4, "usage: zero_data DIR MIB [sparse]");
  size_t len = (size_t)atol(argv[2]) << 20;
  int sparse = argc == 4 && !strcmp(argv[3], "sparse");
  uint8_t *p = mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(p != MAP_FAILED, "mmap");
  volatile int zero = 0; /* not known to be 0: the writes stay */
  memset(p, zero, len);
  for (size_t off = 0; sparse && off < len; off += PAGE) *(uint64_t *)(p + off + 64) = off ^ 0x5eed;
  say_ready();
  wait_go(argv[1]);
  for (size_t off = 0; off < len; off += 8) {
    uint64_t want = sparse && off % PAGE == 64 ? (off - 64) ^ 0x5eed : 0;
    CHECK(*(const uint64_t *)(p + off) == want, "the word at %zu is %llx, not %llx", off,
          (unsigned long long)*(const uint64_t *)(p + off), (unsigned long long)want);
  }
  for (size_t off = 0; off < len; off += PAGE) *(uint64_t *)(p + off + 128) = off ^ 0xbeef;
  for (size_t off = 0; off < len; off += PAGE)
    CHECK(*(const uint64_t *)(p + off + 128) == (off ^ 0xbeef), "the word written at %zu", off);
  printf("PASS\n");
  return 0;
}
