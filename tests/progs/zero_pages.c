/* 64 MiB of private memory written with zeros, but for one word in every 16th page, and a
 * shared anonymous MiB likewise: the zero pages must come back as zeros (the image holds none of
 * them) and the marked words as they were. Usage: zero_pages DIR */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "check.h"
#include "wait_go.h"

#define PAGE 4096

static void fill(uint8_t *p, size_t len, uint64_t salt) {
  memset(p, 0, len); /* every page written: present, holding zeros */
  for (size_t off = 0; off < len; off += 16 * PAGE) *(uint64_t *)(p + off + 8) = off ^ salt;
}

static void check(const uint8_t *p, size_t len, uint64_t salt, const char *what) {
  for (size_t off = 0; off < len; off += 8) {
    uint64_t want = off % (16 * PAGE) == 8 ? (off - 8) ^ salt : 0;
    CHECK(*(const uint64_t *)(p + off) == want, "%s: word at %zu is %llx, expected %llx", what, off,
          (unsigned long long)*(const uint64_t *)(p + off), (unsigned long long)want);
  }
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: zero_pages DIR");
  size_t len = 64 << 20, shared_len = 1 << 20;
  uint8_t *priv = mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  uint8_t *shared = mmap(0, shared_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(priv != MAP_FAILED && shared != MAP_FAILED, "mmap");
  fill(priv, len, 0x5eed);
  fill(shared, shared_len, 0xfeed);
  say_ready();
  wait_go(argv[1]);
  check(priv, len, 0x5eed, "private");
  check(shared, shared_len, 0xfeed, "shared");
  printf("PASS\n");
  return 0;
}
