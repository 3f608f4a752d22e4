/* Changes a known scattered set of pages between snapshots, for incremental images found by
 * dirty-page tracking: each round (on <dir>/stepN) first checks every page against what the
 * rounds so far made of it, then writes about 1% of a 64 MiB region's pages, zaps some
 * (MADV_DONTNEED: zeros again), makes a part of it read-only and writable again, maps a region anew at the same address (munmap, mmap), moves
 * one (mremap), and writes and zaps pages of a private file mapping (zapped: the file's again).
 * Says "changed N" after round N, "checked N" after the check that begins round N + 1, and on
 * <dir>/go checks once more and says PASS. A page's content is a pure function of the round
 * that last wrote it, so a check needs nothing but the round number. */
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "check.h"
#include "wait_go.h"

#define PAGE 4096
#define A_PAGES 16384 /* 64 MiB */
#define B_PAGES 2048  /* 8 MiB, mapped anew each round */
#define C_PAGES 1024  /* 4 MiB, moved each round */
#define F_PAGES 256   /* 1 MiB of a file, mapped private */
#define E_PAGES 256   /* 1 MiB, mapped in odd rounds, unmapped in even ones */

static uint64_t mix(uint64_t x) {
  x ^= x >> 33, x *= 0xff51afd7ed558ccdULL, x ^= x >> 33, x *= 0xc4ceb9fe1a85ec53ULL;
  return x ^ (x >> 33);
}

/* Page p of region r as round g wrote it (g 0: the first fill; the file's own: g ~0). */
static void fill(uint64_t *page, int r, uint64_t p, uint64_t g) {
  uint64_t s = mix(((uint64_t)r << 56) ^ (p << 20) ^ g) | 1;
  for (int i = 0; i < PAGE / 8; i++) s ^= s << 13, s ^= s >> 7, s ^= s << 17, page[i] = s;
}

static int same(const uint64_t *page, int r, uint64_t p, uint64_t g) {
  static uint64_t want[PAGE / 8];
  fill(want, r, p, g);
  return !memcmp(page, want, PAGE);
}

static int zero(const uint64_t *page) {
  for (int i = 0; i < PAGE / 8; i++)
    if (page[i]) return 0;
  return 1;
}

/* Round g (1 and on) writes page p of A, or zaps it, or neither. */
static int a_written(uint64_t p, uint64_t g) { return mix(p * 131 + g) % 100 == 0; }
static int a_zapped(uint64_t p, uint64_t g) { return mix(p * 977 + g * 7) % 1000 == 1; }
static int f_written(uint64_t p, uint64_t g) { return p % 7 == g % 7; }
static int f_zapped(uint64_t p, uint64_t g) { return p == (g * 37) % F_PAGES; }

static char *a, *b, *c, *e, *f, *c_spot[2];
static uint64_t round_no;

/* Over the old mapping at once (MAP_FIXED): no moment where another mapping could take it. */
static void map_b(uint64_t g) {
  void *want = b;
  b = mmap(want, B_PAGES * PAGE, PROT_READ | PROT_WRITE,
           MAP_PRIVATE | MAP_ANONYMOUS | (want ? MAP_FIXED : 0), -1, 0);
  CHECK(b != MAP_FAILED, "mmap");
  for (uint64_t p = 0; p < B_PAGES / 2; p++) fill((uint64_t *)(b + p * PAGE), 2, p, g);
}

static void change(uint64_t g) {
  /* A part of A made read-only and writable again: its mapping split and merged. */
  char *part = a + (g % 8) * 2048 * PAGE;
  CHECK(mprotect(part, 256 * PAGE, PROT_READ) == 0, "mprotect");
  CHECK(mprotect(part, 256 * PAGE, PROT_READ | PROT_WRITE) == 0, "mprotect");
  for (uint64_t p = 0; p < A_PAGES; p++) {
    if (a_written(p, g)) fill((uint64_t *)(a + p * PAGE), 1, p, g);
    else if (a_zapped(p, g)) CHECK(madvise(a + p * PAGE, PAGE, MADV_DONTNEED) == 0, "madvise");
  }
  map_b(g);
  char *to = c_spot[g % 2];
  c = mremap(c, C_PAGES * PAGE, C_PAGES * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, to);
  CHECK(c == to, "mremap");
  char *from = c_spot[(g + 1) % 2]; /* reserved again, unless something took it meanwhile */
  CHECK(mmap(from, C_PAGES * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
             -1, 0) == from, "mmap");
  if (g % 2) {
    e = mmap(0, E_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(e != MAP_FAILED, "mmap");
    for (uint64_t p = 0; p < E_PAGES; p++) fill((uint64_t *)(e + p * PAGE), 5, p, g);
  } else if (e) {
    CHECK(munmap(e, E_PAGES * PAGE) == 0, "munmap");
    e = 0;
  }
  fill((uint64_t *)(c + (g % C_PAGES) * PAGE), 3, g % C_PAGES, g);
  for (uint64_t p = 0; p < F_PAGES; p++) {
    if (f_written(p, g)) fill((uint64_t *)(f + p * PAGE), 4, p, g);
    else if (f_zapped(p, g)) CHECK(madvise(f + p * PAGE, PAGE, MADV_DONTNEED) == 0, "madvise");
  }
}

/* What round g left in page p: the round that last wrote it, or zeros (~1), or the file (~0). */
static uint64_t a_state(uint64_t p, uint64_t g) {
  for (;; g--) {
    if (g == 0) return 0;
    if (a_written(p, g)) return g;
    if (a_zapped(p, g)) return ~1ULL;
  }
}

static uint64_t f_state(uint64_t p, uint64_t g) {
  for (;; g--) {
    if (g == 0) return ~0ULL;
    if (f_written(p, g)) return g;
    if (f_zapped(p, g)) return ~0ULL;
  }
}

static uint64_t c_state(uint64_t p, uint64_t g) {
  for (;; g--)
    if (g == 0 || p == g % C_PAGES) return g;
}

static void check_all(uint64_t g) {
  for (uint64_t p = 0; p < A_PAGES; p++) {
    uint64_t s = a_state(p, g);
    const uint64_t *page = (const uint64_t *)(a + p * PAGE);
    CHECK(s == ~1ULL ? zero(page) : same(page, 1, p, s), "round %llu: page %llu of A (state %llx)",
          (unsigned long long)g, (unsigned long long)p, (unsigned long long)s);
  }
  for (uint64_t p = 0; p < B_PAGES; p++) {
    const uint64_t *page = (const uint64_t *)(b + p * PAGE);
    CHECK(p < B_PAGES / 2 ? same(page, 2, p, g) : zero(page), "round %llu: page %llu of B",
          (unsigned long long)g, (unsigned long long)p);
  }
  CHECK(c == c_spot[g % 2], "C is where round %llu moved it", (unsigned long long)g);
  for (uint64_t p = 0; p < C_PAGES; p++)
    CHECK(same((const uint64_t *)(c + p * PAGE), 3, p, c_state(p, g)), "round %llu: page %llu of C",
          (unsigned long long)g, (unsigned long long)p);
  CHECK(!e == !(g % 2), "E is mapped in odd rounds");
  for (uint64_t p = 0; e && p < E_PAGES; p++)
    CHECK(same((const uint64_t *)(e + p * PAGE), 5, p, g), "round %llu: page %llu of E",
          (unsigned long long)g, (unsigned long long)p);
  for (uint64_t p = 0; p < F_PAGES; p++) {
    uint64_t s = f_state(p, g);
    CHECK(same((const uint64_t *)(f + p * PAGE), 4, p, s), "round %llu: page %llu of the file",
          (unsigned long long)g, (unsigned long long)p);
  }
}

static int step_exists(const char *dir, uint64_t n) {
  char path[4096];
  snprintf(path, sizeof path, "%s/step%llu", dir, (unsigned long long)n);
  return access(path, F_OK) == 0;
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: dirty_pages DIR");
  const char *dir = argv[1];
  a = mmap(0, A_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(a != MAP_FAILED, "mmap");
  for (uint64_t p = 0; p < A_PAGES; p++) fill((uint64_t *)(a + p * PAGE), 1, p, 0);
  map_b(0);
  /* Two spots for C, reserved so that nothing else is mapped there. */
  char *spots = mmap(0, 3 * C_PAGES * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(spots != MAP_FAILED, "mmap");
  c_spot[0] = spots, c_spot[1] = spots + 2 * C_PAGES * PAGE;
  c = mmap(c_spot[0], C_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
           -1, 0);
  CHECK(c == c_spot[0], "mmap");
  for (uint64_t p = 0; p < C_PAGES; p++) fill((uint64_t *)(c + p * PAGE), 3, p, 0);
  /* The file holds the pages of "round ~0"; mapped private, its pages change in memory only. */
  char path[4096];
  snprintf(path, sizeof path, "%s/dirty_pages.data", dir);
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  CHECK(fd >= 0, "open");
  static uint64_t page[PAGE / 8];
  for (uint64_t p = 0; p < F_PAGES; p++) {
    fill(page, 4, p, ~0ULL);
    CHECK(write(fd, page, PAGE) == PAGE, "write");
  }
  f = mmap(0, F_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  CHECK(f != MAP_FAILED, "mmap");
  close(fd);
  say_ready();
  for (;;) {
    if (go_exists(dir)) break;
    if (!step_exists(dir, round_no + 1)) {
      usleep(5000);
      continue;
    }
    check_all(round_no);
    printf("checked %llu\n", (unsigned long long)round_no);
    change(++round_no);
    printf("changed %llu\n", (unsigned long long)round_no);
    fflush(stdout);
  }
  check_all(round_no);
  printf("PASS\n");
  return 0;
}
