/* Eight workers each write their own part of one 64 MiB MAP_SHARED | MAP_ANONYMOUS region that
 * the parent never touches, then exit one by one: four before the snapshot (their pages are
 * only in the shared object now), four after the restore. A second shared region, written by a
 * worker, is PROT_NONE at the snapshot; a third has MADV_DONTDUMP on its second half only (two
 * regions of one object, which the restore maps as one before it splits them again). After the
 * restore every byte must be as written, in the parent, and in the workers still alive. */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "check.h"
#include "wait_go.h"

#define WORKERS 8
#define REGION (64UL << 20)
#define PART (REGION / WORKERS)
#define WRITTEN (PART - (1UL << 20)) /* the last MiB of each part stays a hole */
#define SMALL (1UL << 20)

static uint64_t expected(uint64_t word) {
  uint64_t part = word * 8 / PART, at = word * 8 % PART;
  return at < WRITTEN ? (word * 0x9E3779B97F4A7C15ULL) ^ (part + 1) : 0;
}

/* The words [from, to) of the region as written; the first wrong one, or -1. */
static long check_words(const uint64_t *mem, uint64_t from, uint64_t to) {
  for (uint64_t w = from; w < to; w++)
    if (mem[w] != expected(w)) return (long)w;
  return -1;
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: shared_workers DIR");
  uint64_t *mem = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  uint64_t *small = mmap(NULL, SMALL, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  volatile int *exited = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  char *halves = mmap(NULL, 2 * SMALL, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(mem != MAP_FAILED && small != MAP_FAILED && exited != MAP_FAILED && halves != MAP_FAILED,
        "mmap");
  CHECK(madvise(halves + SMALL, SMALL, MADV_DONTDUMP) == 0, "madvise");
  pid_t kids[WORKERS];
  for (int k = 0; k < WORKERS; k++) {
    kids[k] = fork();
    CHECK(kids[k] >= 0, "fork");
    if (kids[k]) continue;
    uint64_t from = k * PART / 8, to = (k * PART + WRITTEN) / 8;
    for (uint64_t w = from; w < to; w++) mem[w] = expected(w);
    if (k == 0)
      for (uint64_t w = 0; w < SMALL / 8; w++) small[w] = ~w;
    if (k == 1) memset(halves, 'h', 2 * SMALL);
    __atomic_store_n(&exited[k], 1, __ATOMIC_RELEASE);
    if (k < WORKERS / 2) return 0; /* gone before the snapshot */
    wait_go(argv[1]);
    long bad = check_words(mem, 0, REGION / 8);
    CHECK(bad < 0, "worker %d: word %ld is %lx, not %lx", k, bad, (unsigned long)mem[bad],
          (unsigned long)expected(bad));
    return 0;
  }
  for (int k = 0; k < WORKERS; k++) {
    while (!__atomic_load_n(&exited[k], __ATOMIC_ACQUIRE)) usleep(1000);
    if (k < WORKERS / 2) {
      int status;
      CHECK(waitpid(kids[k], &status, 0) == kids[k] && WIFEXITED(status) && !WEXITSTATUS(status),
            "worker %d failed", k);
    }
  }
  /* Where swap is on, half the region goes there (it must be mapped here to be paged out):
   * pages the snapshot must find in swap, in no page table. */
  uint64_t sum = 0;
  for (uint64_t w = 0; w < REGION / 16; w += 512) sum += ((volatile uint64_t *)mem)[w];
  madvise(mem, REGION / 2, MADV_PAGEOUT);
  CHECK(sum != 1, "sum");
  CHECK(mprotect(small, SMALL, PROT_NONE) == 0, "mprotect");
  say_ready();
  wait_go(argv[1]);
  for (int k = WORKERS / 2; k < WORKERS; k++) {
    int status;
    CHECK(waitpid(kids[k], &status, 0) == kids[k] && WIFEXITED(status) && !WEXITSTATUS(status),
          "worker %d failed", k);
  }
  long bad = check_words(mem, 0, REGION / 8);
  CHECK(bad < 0, "word %ld is %lx, not %lx", bad, (unsigned long)mem[bad],
        (unsigned long)expected(bad));
  CHECK(mprotect(small, SMALL, PROT_READ) == 0, "mprotect back");
  for (uint64_t w = 0; w < SMALL / 8; w++)
    CHECK(small[w] == ~w, "PROT_NONE region word %lu", (unsigned long)w);
  for (uint64_t i = 0; i < 2 * SMALL; i++) CHECK(halves[i] == 'h', "halves byte %lu", (unsigned long)i);
  FILE *smaps = fopen("/proc/self/smaps", "r");
  char line[1024];
  int dontdump = -1, seen = 0;
  while (smaps && fgets(line, sizeof line, smaps)) {
    unsigned long start, end;
    if (sscanf(line, "%lx-%lx ", &start, &end) == 2 && strchr(line, '-') < strchr(line, ' ')) {
      dontdump = start == (uintptr_t)halves && end == (uintptr_t)halves + SMALL     ? 0
                 : start == (uintptr_t)halves + SMALL && end == (uintptr_t)halves + 2 * SMALL ? 1
                                                                                        : -1;
    } else if (dontdump >= 0 && !strncmp(line, "VmFlags:", 8)) {
      CHECK((strstr(line, " dd") != NULL) == dontdump, "MADV_DONTDUMP on half %d: %s", dontdump,
            line);
      seen++;
    }
  }
  CHECK(seen == 2, "the two halves are %d regions", seen);
  printf("PASS\n");
  return 0;
}
