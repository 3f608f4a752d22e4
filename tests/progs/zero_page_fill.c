/* Pages that are the kernel's shared zero page when a pre-copy looks at them (it skips them:
 * PAGE_IS_PFNZERO, nothing to read) and that the program then writes before the freeze: the
 * image must hold what they hold at the freeze (docs/snapshot-protocol.md, "Pre-copy").
 *
 * zero_page_fill DIR MIB: over and over, a pass zaps MIB of private memory (MADV_DONTNEED),
 * reads every page of it (each then maps the shared zero page), then writes the pages one by
 * one with f(pass, page), some 150 ms for the whole, each page's state known by the pass and the
 * position in memory. It says "ready" once the first pass writes. A restored process (it
 * notices by its system thread ID, a raw gettid past Amber's seccomp layer) checks its memory
 * at once: every page before the position holds f(pass, page), every page after it zeros; it
 * says "checked pass P page N" or FAIL, and goes on, until DIR/go: then PASS. */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>

#include "check.h"
#include "marked_calls.h"
#include "wait_go.h"

#define PAGE 4096
#define WORDS (PAGE / 8)

static long raw_gettid(void) { return marked(SYS_gettid, 0, 0, 0, 0); }

static inline uint64_t word(uint64_t pass, uint64_t page, uint64_t i) {
  uint64_t x = pass * 0x9e3779b97f4a7c15ULL ^ (page + 1) * 0xc2b2ae3d27d4eb4fULL ^ (i + 1);
  x ^= x >> 31;
  return x * 0xbf58476d1ce4e5b9ULL | 1; /* never 0: a page written is not a page of zeros */
}

/* The state while a pass writes: pages [0, pos) hold pass's words, the rest zeros. */
static volatile uint64_t pass, pos;

static void check(const uint64_t *mem, uint64_t pages) {
  for (uint64_t page = 0; page < pages; page++)
    for (uint64_t i = 0; i < WORDS; i++) {
      uint64_t want = page < pos ? word(pass, page, i) : 0;
      CHECK(mem[page * WORDS + i] == want,
            "pass %llu position %llu: page %llu word %llu holds %llx, expected %llx",
            (unsigned long long)pass, (unsigned long long)pos, (unsigned long long)page,
            (unsigned long long)i, (unsigned long long)mem[page * WORDS + i],
            (unsigned long long)want);
    }
  printf("checked pass %llu page %llu\n", (unsigned long long)pass, (unsigned long long)pos);
  fflush(stdout);
}

int main(int argc, char **argv) {
  CHECK(argc == 3, "usage: zero_page_fill DIR MIB");
  const char *dir = argv[1];
  uint64_t pages = strtoull(argv[2], NULL, 10) << 8;
  uint64_t *mem = mmap(0, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(mem != MAP_FAILED, "mmap");
  long tid = raw_gettid();
  int said = 0;
  while (!go_exists(dir)) {
    CHECK(madvise(mem, pages * PAGE, MADV_DONTNEED) == 0, "madvise");
    uint64_t sum = 0;
    for (uint64_t page = 0; page < pages; page++) sum += ((volatile uint64_t *)mem)[page * WORDS];
    CHECK(sum == 0, "a page zapped holds data");
    pass++, pos = 0;
    if (!said) say_ready(), said = 1;
    for (uint64_t page = 0; page < pages; page++) {
      for (uint64_t i = 0; i < WORDS; i++) mem[page * WORDS + i] = word(pass, page, i);
      __asm__ volatile("" ::: "memory");
      pos = page + 1;
      if (page % 64 == 63) {
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
      }
      if (raw_gettid() != tid) { /* restored: the pass's state holds whatever it did since */
        tid = raw_gettid();
        check(mem, pages);
      }
    }
  }
  printf("PASS\n");
  return 0;
}
