/* The record of a deferred write (agent_defer.h). The helper replays the very calls the
 * frozen pass made, in the same order (the regions in order, each walked the same way), so a
 * scan's answer is taken from the record in turn, and a page's copy is found from where the
 * last one was. Its memory comes from mmap, after the memory map was read: not in the image.
 * Runs in the handler, and in the helper: raw system calls, no locks. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "agent.h"
#include "agent_defer.h"

int amber_defer_mode;

struct scan_entry {
  uint64_t start, walk_end;
  int64_t n; /* regions that follow */
};

struct page_run {
  uint64_t addr, npages, off; /* off: in `pages` */
};

static char *scans;                 /* scan_entry, then its regions, ... */
static uint64_t scans_used, scans_cap, scans_read;
static char *pages;                 /* the copies */
static uint64_t pages_used, pages_cap;
static struct page_run *runs;
static uint64_t nruns, runs_cap, run_at;
static int32_t in_flight_pid;       /* the process whose helper writes; 0: none */

static int grow(char **buf, uint64_t *cap, uint64_t need) {
  if (need <= *cap) return 0;
  uint64_t cap2 = *cap ? *cap : 1u << 16;
  while (cap2 < need) cap2 *= 2;
  long addr = *buf ? amber_sys5(SYS_mremap, *buf, *cap, cap2, MREMAP_MAYMOVE, 0)
                   : amber_sys6(SYS_mmap, 0, cap2, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (addr < 0 && addr > -4096) return -ENOMEM;
  *buf = (char *)addr, *cap = cap2;
  return 0;
}

long amber_defer_scan(int fd, struct pm_scan_arg *a) {
  if (amber_defer_mode == AMBER_DEFER_REPLAY) {
    const struct scan_entry *e = (const void *)(scans + scans_read);
    if (scans_read + sizeof *e > scans_used || e->start != a->start ||
        (uint64_t)e->n > a->vec_len)
      return -EIO; /* not the walk that was recorded */
    memcpy((void *)(uintptr_t)a->vec, e + 1, (uint64_t)e->n * sizeof(struct pm_page_region));
    a->walk_end = e->walk_end;
    scans_read += sizeof *e + (uint64_t)e->n * sizeof(struct pm_page_region);
    return e->n;
  }
  uint64_t start = a->start;
  long n = amber_sys3(SYS_ioctl, fd, PAGEMAP_SCAN, a);
  if (amber_defer_mode != AMBER_DEFER_RECORD || n < 0) return n;
  uint64_t bytes = sizeof(struct scan_entry) + (uint64_t)n * sizeof(struct pm_page_region);
  if (grow(&scans, &scans_cap, scans_used + bytes)) return -ENOMEM;
  struct scan_entry *e = (void *)(scans + scans_used);
  *e = (struct scan_entry){start, a->walk_end, n};
  memcpy(e + 1, (const void *)(uintptr_t)a->vec, (uint64_t)n * sizeof(struct pm_page_region));
  scans_used += bytes;
  return n;
}

int amber_defer_copy(uint64_t from, uint64_t to) {
  uint64_t bytes = to - from;
  if (grow(&pages, &pages_cap, pages_used + bytes)) return -ENOMEM;
  struct page_run *last = nruns ? &runs[nruns - 1] : 0;
  if (last && last->addr + last->npages * AMBER_PAGE == from) {
    last->npages += bytes / AMBER_PAGE;
  } else {
    uint64_t cap_bytes = runs_cap * sizeof *runs;
    if (grow((char **)&runs, &cap_bytes, (nruns + 1) * sizeof *runs)) return -ENOMEM;
    runs_cap = cap_bytes / sizeof *runs;
    runs[nruns++] = (struct page_run){from, bytes / AMBER_PAGE, pages_used};
  }
  memcpy(pages + pages_used, (const void *)from, bytes);
  pages_used += bytes;
  return 0;
}

static int run_holds(const struct page_run *r, uint64_t addr) {
  return r->addr <= addr && addr < r->addr + r->npages * AMBER_PAGE;
}

const void *amber_defer_page(uint64_t addr) {
  if (amber_defer_mode != AMBER_DEFER_REPLAY) return (const void *)addr;
  /* Pages are read in the order they were copied: from the last run found, on. */
  while (run_at < nruns && !run_holds(&runs[run_at], addr) && runs[run_at].addr < addr) run_at++;
  if (run_at == nruns || !run_holds(&runs[run_at], addr)) {
    uint64_t lo = 0, hi = nruns;
    while (lo < hi) {
      uint64_t mid = (lo + hi) / 2;
      if (runs[mid].addr <= addr) lo = mid + 1;
      else hi = mid;
    }
    if (!lo || !run_holds(&runs[lo - 1], addr)) return 0;
    run_at = lo - 1;
  }
  return pages + runs[run_at].off + (addr - runs[run_at].addr);
}

uint64_t amber_defer_bytes(void) { return scans_used + pages_used; }

void amber_defer_begin(void) {
  scans = 0, pages = 0, runs = 0;
  scans_used = scans_cap = scans_read = pages_used = pages_cap = nruns = runs_cap = run_at = 0;
  amber_defer_mode = AMBER_DEFER_RECORD;
}

void amber_defer_release(void) {
  if (scans) amber_sys2(SYS_munmap, scans, scans_cap);
  if (pages) amber_sys2(SYS_munmap, pages, pages_cap);
  if (runs) amber_sys2(SYS_munmap, runs, runs_cap * sizeof *runs);
  amber_defer_begin();
  amber_defer_mode = AMBER_DEFER_LIVE;
}

void amber_defer_started(void) { __atomic_store_n(&in_flight_pid, amber_sys_getpid(), __ATOMIC_RELEASE); }
void amber_defer_done(void) { __atomic_store_n(&in_flight_pid, 0, __ATOMIC_RELEASE); }

int amber_defer_inherited(void) {
  int32_t pid = __atomic_load_n(&in_flight_pid, __ATOMIC_ACQUIRE);
  if (!pid || pid == amber_sys_getpid()) return 0;
  amber_defer_begin(); /* its memory is the parent's helper's, not this process's to unmap */
  amber_defer_mode = AMBER_DEFER_LIVE;
  in_flight_pid = 0;
  return 1;
}

/* For tests (tests/precopy_test.ts): the helper waits this long before it writes, so that the
 * program surely runs and writes meanwhile. */
static long test_delay_ms;

__attribute__((constructor)) static void test_delay_wanted(void) {
  const char *v = getenv("AMBER_TEST_DEFER_DELAY_MS");
  test_delay_ms = v ? atol(v) : 0;
}

void amber_defer_test_delay(void) {
  if (test_delay_ms <= 0) return;
  amber_log("deferred write: the helper waits %ld ms first (AMBER_TEST_DEFER_DELAY_MS)",
            test_delay_ms);
  struct timespec ts = {test_delay_ms / 1000, test_delay_ms % 1000 * 1000000};
  while (amber_sys2(SYS_nanosleep, &ts, &ts) == -EINTR) {}
}
