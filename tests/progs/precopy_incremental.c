/* Rewrites its memory flat out while incremental snapshots are pre-copied (docs/snapshot-
 * protocol.md, "Pre-copy"), keeping a checksum of that memory as it goes: a restore must bring
 * back exactly the memory whose checksum it held at the freeze.
 *
 * precopy_incremental DIR MIB: fills MIB of private memory and says "ready"; then writes one
 * word after another as fast as it can, at random in a window of 1/8 of the pages that moves on
 * one page every 4096 writes (so between two snapshots part of the memory is written, the rest
 * not), and as the window leaves a page, now and then writes zeros over all of it (a page of
 * zeros, there) or drops it (MADV_DONTNEED: zeros, not there). It says "moved N" each time the
 * window has moved on by 1/4 of the memory. It keeps sum = Σ f(i, word i) over every word,
 * changed with each write under a journal, so that a snapshot may land between any two stores.
 * A restored process (its system thread ID changed) sums its memory again and says "restored
 * sum ok" or "FAIL: ...", and goes on; on DIR/go it checks once more and says PASS. */
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "check.h"
#include "marked_calls.h"
#include "wait_go.h"

#define WORDS 512 /* per page */

static uint64_t *mem, pages;
static volatile uint64_t sum;
/* The change under way: state 0 none; else the sum is either sum or sum + delta. */
static volatile struct {
  int state;
  uint64_t delta;
} journal;

/* The system thread ID, past Amber's seccomp layer: it changes with a restore. */
static long raw_gettid(void) { return marked(SYS_gettid, 0, 0, 0, 0); }

static inline uint64_t f(uint64_t i, uint64_t v) {
  uint64_t x = v ^ (i + 1) * 0x9e3779b97f4a7c15ULL;
  x ^= x >> 31, x *= 0xbf58476d1ce4e5b9ULL, x ^= x >> 29;
  return x;
}

#define BARRIER() __asm__ volatile("" ::: "memory")

static void write_word(uint64_t i, uint64_t v) {
  journal.delta = f(i, v) - f(i, mem[i]);
  BARRIER();
  journal.state = 1;
  BARRIER();
  mem[i] = v;
  BARRIER();
  sum += journal.delta;
  BARRIER();
  journal.state = 0;
}

static void drop_page(uint64_t page) {
  uint64_t delta = 0;
  for (uint64_t k = page * WORDS; k < (page + 1) * WORDS; k++) delta += f(k, 0) - f(k, mem[k]);
  journal.delta = delta;
  BARRIER();
  journal.state = 1;
  BARRIER();
  CHECK(madvise(mem + page * WORDS, 4096, MADV_DONTNEED) == 0, "madvise");
  BARRIER();
  sum += journal.delta;
  BARRIER();
  journal.state = 0;
}

/* Is the memory the one whose sum it holds? */
static void check(const char *when) {
  uint64_t s = 0;
  for (uint64_t k = 0; k < pages * WORDS; k++) s += f(k, mem[k]);
  int ok = s == sum || (journal.state && s == sum + journal.delta);
  if (!ok) {
    printf("FAIL: %s: the memory's sum is %016llx, the program held %016llx (state %d)\n", when,
           (unsigned long long)s, (unsigned long long)sum, journal.state);
    fflush(stdout);
    exit(1);
  }
  printf("%s sum ok\n", when);
  fflush(stdout);
}

int main(int argc, char **argv) {
  CHECK(argc == 3, "usage: precopy_incremental DIR MIB");
  const char *dir = argv[1];
  pages = strtoul(argv[2], NULL, 10) * 256;
  mem = mmap(NULL, pages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(mem != MAP_FAILED, "mmap");
  uint64_t x = 88172645463325252ULL;
  for (uint64_t k = 0; k < pages * WORDS; k++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    mem[k] = x;
    sum += f(k, x);
  }
  say_ready();
  uint64_t window = pages / 8, at = 0, moves = 0;
  long tid = raw_gettid();
  for (;;) {
    for (int n = 0; n < 4096; n++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      uint64_t page = (at + (x >> 20) % window) % pages;
      write_word(page * WORDS + (x >> 8) % WORDS, x);
    }
    /* The page the window leaves is not written again until it comes round. */
    moves++;
    if (moves % 16 == 0)
      for (uint64_t k = at * WORDS; k < (at + 1) * WORDS; k++) write_word(k, 0);
    else if (moves % 16 == 8)
      drop_page(at);
    at = (at + 1) % pages;
    if (moves % (pages / 4) == 0) {
      printf("moved %llu\n", (unsigned long long)(moves / (pages / 4)));
      fflush(stdout);
    }
    if (raw_gettid() != tid) {
      tid = raw_gettid();
      check("restored");
    }
    if (moves % 256 == 0 && go_exists(dir)) break;
  }
  check("final");
  printf("PASS\n");
  return 0;
}
