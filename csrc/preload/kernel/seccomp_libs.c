/* Raw calls from shared libraries: the first filter lets every call from above
 * AMBER_SECCOMP_LIBS_FROM through, since libc's are its own or the wrappers' (translated
 * already). A library other than libc that makes system calls itself (a Go library's runtime,
 * inline assembly) would go unseen, so once the process has such libraries the libraries' filter
 * (common/seccomp_libs.h) is stacked over the span of their code (ranges_of, below): at start,
 * and again after a dlopen that brings code outside it. Every loaded object but libc, the
 * dynamic loader, the vDSO and this library is taken: which of them make raw calls cannot be
 * told without running them (the bytes of a syscall instruction turn up by chance in most
 * code), and a range costs nothing until a watched call comes from it. The ranges are kept in
 * amber_restore_args, where the restorer reads them to stack the filter again. */
#include <link.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

#include "../core/amber.h"
#include "../agent/agent.h"
#include "../../common/seccomp_libs.h"

#define MAX_SEGMENTS 512

struct segment {
  uint64_t lo, hi;
  int kept; /* a library's; 0 for code whose calls pass (libc, the loader, the vDSO, Amber) */
};

struct segments {
  struct segment s[MAX_SEGMENTS];
  int n;
  uintptr_t passing[4]; /* an address in each object whose calls pass */
};

/* Does the object hold one of the addresses in a segment of any kind? */
static int passes(const struct dl_phdr_info *info, const struct segments *all) {
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
    for (int k = 0; ph->p_type == PT_LOAD && k < 4; k++)
      if (all->passing[k] >= lo && all->passing[k] < hi) return 1;
  }
  return 0;
}

static int collect(struct dl_phdr_info *info, size_t size, void *data) {
  struct segments *all = data;
  int kept = !passes(info, all);
  for (int i = 0; i < info->dlpi_phnum && all->n < MAX_SEGMENTS; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
    uint64_t lo = (info->dlpi_addr + ph->p_vaddr) & ~4095ULL;
    uint64_t hi = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz + 4095) & ~4095ULL;
    if (lo < AMBER_SECCOMP_LIBS_FROM) continue; /* the program's own: the first filter's */
    all->s[all->n++] = (struct segment){lo, hi, kept};
  }
  return 0;
}

static int by_address(const void *a, const void *b) {
  const struct segment *x = a, *y = b;
  return x->lo < y->lo ? -1 : x->lo > y->lo;
}

typedef uint64_t range_t[2];

/* Libraries a dlopen brings later are mapped in the gaps between those there now or below
 * them (the kernel hands out addresses from the top down), so the ranges are the whole span of
 * the loaded code, from RESERVE below the lowest to the top of the highest, less the code whose
 * calls pass: libc's, the loader's, the vDSO's and Amber's, which stay where they are for the
 * life of the program. Then most dlopens need no filter of their own (filters stack up, and
 * each costs every watched call its compares). A call from memory in the span that is no
 * library's (a JIT's code) is trapped too, and translated as it should be. Small, since after an
 * exec it is a stale range: about a thousandth of the space the kernel randomizes over. */
#define RESERVE (1ULL << 30)

static int ranges_of(struct segments *all, range_t *out, int max) {
  int libraries = 0;
  for (int i = 0; i < all->n; i++) libraries |= all->s[i].kept;
  if (!libraries) return 0; /* only libc's and Amber's code: nothing to trap yet */
  qsort(all->s, (size_t)all->n, sizeof all->s[0], by_address);
  uint64_t at = all->s[0].lo, top = 0;
  at = at >= AMBER_SECCOMP_LIBS_FROM + RESERVE ? at - RESERVE : AMBER_SECCOMP_LIBS_FROM;
  int n = 0;
  for (int i = 0; i < all->n; i++) {
    if (all->s[i].hi > top) top = all->s[i].hi;
    if (all->s[i].kept) continue;
    if (all->s[i].lo > at) {
      if (n == max) return -1;
      out[n][0] = at, out[n][1] = all->s[i].lo;
      n++;
    }
    if (all->s[i].hi > at) at = all->s[i].hi;
  }
  if (top > at) {
    if (n == max) return -1;
    out[n][0] = at, out[n][1] = top;
    n++;
  }
  return n;
}

static int by_start(const void *a, const void *b) {
  const uint64_t *x = a, *y = b;
  return x[0] < y[0] ? -1 : x[0] > y[0];
}

/* Sorted, and those that overlap or touch made one: a range holds no code that passes, so
 * neither does a union of them. */
static int merged(range_t *r, int n) {
  qsort(r, (size_t)n, sizeof r[0], by_start);
  int m = 0;
  for (int i = 0; i < n; i++) {
    if (m && r[i][0] <= r[m - 1][1]) {
      if (r[i][1] > r[m - 1][1]) r[m - 1][1] = r[i][1];
    } else {
      r[m][0] = r[i][0], r[m][1] = r[i][1];
      m++;
    }
  }
  return m;
}

/* Is every kept segment inside the ranges of the filter stacked last? */
static int covered(const struct segments *all) {
  const struct amber_restore_args *a = &amber_restore_args;
  for (int i = 0; i < all->n; i++) {
    int in = !all->s[i].kept;
    for (int k = 0; !in && k < a->libs_nranges; k++)
      in = all->s[i].lo >= a->libs_ranges[k][0] && all->s[i].hi <= a->libs_ranges[k][1];
    if (!in) return 0;
  }
  return 1;
}

static void update(void) {
  static struct segments all;
  all.n = 0;
  all.passing[0] = (uintptr_t)REAL(getpid);               /* libc */
  all.passing[1] = (uintptr_t)update;                     /* this library */
  all.passing[2] = (uintptr_t)getauxval(AT_SYSINFO_EHDR); /* the vDSO's ELF header */
  all.passing[3] = (uintptr_t)getauxval(AT_BASE);         /* the dynamic loader's */
  dl_iterate_phdr(collect, &all);
  if (covered(&all)) return;
  /* the new filter holds the last one's ranges too, so that it alone is enough to restore */
  enum { MAX = AMBER_SECCOMP_LIBS_MAX_RANGES };
  range_t ranges[2 * MAX + 1];
  int n = ranges_of(&all, ranges, MAX);
  if (n >= 0) {
    memcpy(ranges + n, amber_restore_args.libs_ranges,
           sizeof ranges[0] * (size_t)amber_restore_args.libs_nranges);
    n = merged(ranges, n + amber_restore_args.libs_nranges);
  }
  if (n < 0 || n > MAX) {
    amber_log("the kernel-side layer does not see raw calls from shared libraries: more than %d "
              "ranges of their code",
              MAX);
    return;
  }
  int index = amber_seccomp_libs_count();
  long r = index >= AMBER_SECCOMP_LIBS_MAX
               ? -E2BIG
               : amber_seccomp_libs_install(ranges, n, (uint32_t)index, SECCOMP_FILTER_FLAG_TSYNC);
  if (r != 0) {
    amber_log("the kernel-side layer does not see raw calls from shared libraries: seccomp "
              "refused their filter (%ld)",
              r < 0 ? -r : r);
    return;
  }
  memcpy(amber_restore_args.libs_ranges, ranges, sizeof ranges[0] * (size_t)n);
  amber_restore_args.libs_nranges = n;
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* dlopens in two threads */

/* A fork's child: another thread of its parent may have held the lock. */
void amber_seccomp_libs_forget(void) { pthread_mutex_init(&lock, NULL); }

void amber_seccomp_libs_update(void) {
  if (!amber_seccomp_layer) return;
  pthread_mutex_lock(&lock);
  update();
  pthread_mutex_unlock(&lock);
}
