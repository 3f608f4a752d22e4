/* The raw costs behind pre-copy snapshots (docs/snapshot-protocol.md, "Pre-copy"): a child
 * fills N MiB with random data (4 KiB pages, or transparent huge pages with "thp") and counts
 * as fast as it can, noting its longest gap; this process, from outside:
 *   register  the child's memory on the child's userfaultfd (taken with pidfd_getfd) in
 *             async write-protect mode: does it work from another process, and what it costs;
 *   arm       PAGEMAP_SCAN with PM_SCAN_WP_MATCHING over /proc/<child>/pagemap while the child
 *             runs (every present page write-protected): its time, and the child's longest gap;
 *   walk      the read walk that finds the pages written since (PAGEMAP_SCAN, PAGE_IS_WRITTEN,
 *             no write-protect), with the child stopped and nothing written: the freeze's cost;
 *   rewalk    the same with PM_SCAN_WP_MATCHING (written pages protected again in the pass);
 *   dirty     the walk once the child wrote 1% of its pages;
 *   data      which pages are there: with every category (PAGE_IS_FILE and PAGE_IS_PFNZERO
 *             look at each page's struct page), and as the agent asks (the pages not there).
 * Run: build/bench/precopy_cost 1024 [thp]. Prints one line per figure. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../csrc/common/dirty_track.h"

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

struct shared {
  volatile int uffd, phase; /* phase 1: dirty 1% of the pages, then 2 */
  volatile double gap, max_gap;
  uint64_t start, bytes;
};

static void child(struct shared *s, int thp) {
  char *p = mmap(NULL, s->bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) _exit(1);
  madvise(p, s->bytes, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
  uint64_t x = 88172645463325252ULL;
  for (uint64_t *w = (uint64_t *)p; w < (uint64_t *)(p + s->bytes); w++)
    x ^= x << 13, x ^= x >> 7, x ^= x << 17, *w = x;
  int uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | AMBER_UFFD_USER_MODE_ONLY);
  struct amber_uffdio_api api = {AMBER_UFFD_API,
                                 AMBER_UFFD_FEATURE_WP_ASYNC | AMBER_UFFD_FEATURE_WP_UNPOPULATED, 0};
  if (uffd < 0 || ioctl(uffd, AMBER_UFFDIO_API, &api)) _exit(2);
  s->start = (uint64_t)p;
  s->uffd = uffd;
  double last = now_ms();
  for (;;) {
    double t = now_ms();
    if (t - last > s->max_gap) s->max_gap = t - last;
    last = t;
    if (s->phase == 1) {
      for (uint64_t i = 0; i < s->bytes; i += 100 * 4096) p[i]++;
      s->phase = 2;
      last = now_ms();
    }
  }
}

static long scan(int pagemap, uint64_t start, uint64_t end, uint64_t flags, uint64_t *regions) {
  static struct pm_page_region vec[4096];
  long total = 0;
  for (uint64_t at = start; at < end;) {
    struct pm_scan_arg a = pm_written_scan(at, end, vec, 4096);
    a.flags = flags;
    long n = ioctl(pagemap, PAGEMAP_SCAN, &a);
    if (n < 0) return -1;
    total += n;
    if (a.walk_end <= at) break;
    at = a.walk_end;
  }
  if (regions) *regions = (uint64_t)total;
  return total;
}

/* Times one written-pages walk of [start, end) and prints it as `what`. */
static void timed_walk(const char *what, int pagemap, uint64_t start, uint64_t end,
                       uint64_t flags, double gib) {
  uint64_t n;
  double t0 = now_ms();
  scan(pagemap, start, end, flags, &n);
  double t1 = now_ms();
  printf("%s (stopped): %.2f ms (%.2f ms/GiB), %llu runs\n", what, t1 - t0, (t1 - t0) / gib,
         (unsigned long long)n);
}

int main(int argc, char **argv) {
  uint64_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 1024;
  int thp = argc > 2 && !strcmp(argv[2], "thp");
  struct shared *s = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  s->bytes = mib << 20;
  s->uffd = -1;
  pid_t pid = fork();
  if (pid == 0) child(s, thp);
  while (s->uffd < 0) usleep(1000);
  double gib = mib / 1024.0;
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  int uffd = (int)syscall(SYS_pidfd_getfd, pidfd, s->uffd, 0);
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/pagemap", pid);
  int pagemap = open(path, O_RDONLY);
  if (uffd < 0 || pagemap < 0) { perror("pidfd_getfd or pagemap"); kill(pid, SIGKILL); return 1; }
  uint64_t start = s->start, end = start + s->bytes;

  s->max_gap = 0;
  double t0 = now_ms();
  struct amber_uffdio_register reg = {start, s->bytes, AMBER_UFFDIO_REGISTER_MODE_WP, 0};
  long r = ioctl(uffd, AMBER_UFFDIO_REGISTER, &reg);
  double t1 = now_ms();
  printf("register from outside: %s, %.3f ms\n", r ? strerror(errno) : "ok", t1 - t0);
  if (r) { kill(pid, SIGKILL); return 1; }

  s->max_gap = 0;
  usleep(300000);
  printf("idle 300 ms: child's longest gap %.2f ms\n", s->max_gap);
  s->max_gap = 0;
  t0 = now_ms();
  scan(pagemap, start, end, PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC, NULL);
  t1 = now_ms();
  usleep(5000);
  printf("arm while running: %.1f ms (%.1f ms/GiB), child's longest gap %.2f ms\n", t1 - t0,
         (t1 - t0) / gib, s->max_gap);

  for (int round = 0; round < 3; round++) {
    kill(pid, SIGSTOP);
    usleep(2000);
    timed_walk("walk, nothing written", pagemap, start, end, PM_SCAN_CHECK_WPASYNC, gib);
    timed_walk("walk re-protecting, nothing written", pagemap, start, end,
               PM_SCAN_CHECK_WPASYNC | PM_SCAN_WP_MATCHING, gib);
    for (int cheap = 0; cheap < 2; cheap++) {
      static struct pm_page_region vec[512];
      long entries = 0;
      t0 = now_ms();
      for (uint64_t at = start; at < end;) {
        struct pm_scan_arg a = pm_data_scan(at, end, vec, 512);
        if (cheap) /* the pages not there, as the agent asks of anonymous memory */
          a.category_inverted = a.category_mask = PAGE_IS_PRESENT, a.category_anyof_mask = 0,
          a.return_mask = PAGE_IS_SWAPPED;
        long k = ioctl(pagemap, PAGEMAP_SCAN, &a);
        if (k < 0) break;
        entries += k;
        if (a.walk_end <= at) break;
        at = a.walk_end;
      }
      t1 = now_ms();
      printf("%s (stopped): %.2f ms (%.2f ms/GiB), %ld runs\n",
             cheap ? "walk for the pages not there" : "data scan with every category", t1 - t0,
             (t1 - t0) / gib, entries);
    }
    kill(pid, SIGCONT);
    usleep(20000);
  }
  s->phase = 1;
  while (s->phase != 2) usleep(1000);
  kill(pid, SIGSTOP);
  usleep(2000);
  timed_walk("walk, 1% written", pagemap, start, end, PM_SCAN_CHECK_WPASYNC, gib);
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  return 0;
}
