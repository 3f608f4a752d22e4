/* Copy-on-write sharing between a parent and its forked children comes back: the parent fills
 * 32 MiB (or as many MiB as the second argument says) of private memory and forks 4 children,
 * each of which changes 4 pages of it; child 3 also unmaps a small region it inherited and maps
 * one of its own at the same address. Before the snapshot and after each restore every process
 * checks its own bytes, and the parent adds up the processes' proportional set sizes (Pss,
 * /proc/<pid>/smaps_rollup): near the size when the pages are shared, 5 times that when each
 * process has its own copy. */
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "check.h"
#include "pss.h"
#include "wait_go.h"

#define KIDS 4
static long SIZE = 32L << 20;
#define SMALL (64 << 10)
#define PAGE 4096

struct shared {
  atomic_int round;         /* the parent asks for a check by bumping it */
  atomic_int done[KIDS];    /* the round each child checked */
  atomic_int failed[KIDS];  /* a check that did not hold: the page, plus one */
};
static struct shared *sh;
static unsigned char *big, *small;

static unsigned char byte(long i) { return (unsigned char)(i * 7 + i / PAGE); }

/* Child k's own pages: 4 at k * 64 pages on, filled with k + 1. */
static int changed_by(long page, int k) { return page >= k * 64L && page < k * 64L + 4; }

static long check(int k) {
  for (long i = 0; i < SIZE; i++) {
    long page = i / PAGE;
    unsigned char want = k >= 0 && changed_by(page, k) ? (unsigned char)(k + 1) : byte(i);
    if (big[i] != want) return page + 1;
  }
  for (long i = 0; i < SMALL; i++)
    if (small[i] != (k == 3 ? 0x5a : 0xa5)) return -(i + 1);
  return 0;
}

static void child(int k) {
  for (long p = k * 64L; p < k * 64L + 4; p++) memset(big + p * PAGE, k + 1, PAGE);
  if (k == 3) { /* its own region where its parent's was */
    CHECK(munmap(small, SMALL) == 0, "munmap");
    CHECK(mmap(small, SMALL, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
               0) == small, "mmap at the same address");
    memset(small, 0x5a, SMALL);
  }
  for (int seen = 0;;) {
    int round = sh->round;
    if (round == seen) {
      usleep(2000);
      continue;
    }
    sh->failed[k] = (int)check(k);
    sh->done[k] = seen = round;
  }
}

static void check_all(pid_t *kids, const char *when) {
  static int round;
  sh->round = ++round;
  long mine = check(-1);
  CHECK(mine == 0, "%s: the parent's byte at page %ld is wrong", when, mine - 1);
  for (int k = 0; k < KIDS; k++) {
    while (sh->done[k] != round) usleep(2000);
    CHECK(sh->failed[k] == 0, "%s: child %d's check failed at %d", when, k, sh->failed[k]);
  }
  long total = pss_kb(getpid());
  for (int k = 0; k < KIDS; k++) total += pss_kb(kids[k]);
  CHECK(total < SIZE / 1024 * 3 / 2, "%s: the processes' Pss adds up to %ld kB for %ld kB shared",
        when, total, SIZE / 1024);
  printf("pss %ld kB\n", total); /* for bench/fork_image.ts */
  fflush(stdout);
}

int main(int argc, char **argv) {
  CHECK(argc == 2 || argc == 3, "usage: fork_sharing DIR [MiB]");
  if (argc == 3) SIZE = atol(argv[2]) << 20;
  sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  big = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  small = mmap(NULL, SMALL, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(sh != MAP_FAILED && big != MAP_FAILED && small != MAP_FAILED, "mmap");
  for (long i = 0; i < SIZE; i++) big[i] = byte(i);
  memset(small, 0xa5, SMALL);
  pid_t kids[KIDS];
  for (int k = 0; k < KIDS; k++) {
    kids[k] = fork();
    CHECK(kids[k] >= 0, "fork");
    if (kids[k] == 0) child(k);
  }
  check_all(kids, "before the snapshot"); /* the measure holds for the original */
  say_ready();
  wait_go(argv[1]);
  check_all(kids, "after the restore");
  for (int k = 0; k < KIDS; k++) kill(kids[k], SIGKILL);
  for (int k = 0; k < KIDS; k++) waitpid(kids[k], NULL, 0);
  printf("PASS\n");
  return 0;
}
