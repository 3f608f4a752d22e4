/* Copy-on-write sharing between a parent and its forked children (docs/cow-sharing.md). A
 * parent's restorer restores its memory before it forks its children, so each child starts with
 * its parent's pages, shared as after a fork. The child keeps each private anonymous region it
 * has at the same place as an inherited one (the same start and end, private, of no file): it
 * reads its own saved pages and writes only those that differ, which breaks the sharing of those
 * pages alone, as the program's own writes had; a page its image does not hold is dropped. The
 * result never depends on the pairing being right: a kept page is the child's saved page, by
 * content. */
#include <sys/mman.h>

#include "restorer.h"

#define KEPT 0x80000000u /* in regions[i].flags, the restorer's own (the image's are the low bits) */

int region_kept(const struct amber_region_rec *r) { return (r->flags & KEPT) != 0; }

static int keepable(const struct amber_region_rec *r) {
  return r->kind == AMBER_REGION_ANON &&
         !(r->flags & (AMBER_REGION_GROWSDOWN | AMBER_REGION_FROM_IMAGE));
}

/* The region that starts at `start`, by bisection (mark_inherited checked their order); -1. */
static int region_at(uint64_t start) {
  int lo = 0, hi = hdr.nregions - 1;
  while (lo <= hi) {
    int mid = lo + (hi - lo) / 2;
    if (regions[mid].start == start) return mid;
    if (regions[mid].start < start) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

int mapping_kept(const struct mapping *m) {
  int i = region_at(m->start);
  return i >= 0 && region_kept(&regions[i]) && regions[i].end == m->end;
}

static void keep_if_same(const struct mapping *m, void *ctx) {
  int i = m->anon_private ? region_at(m->start) : -1;
  if (i >= 0 && regions[i].end == m->end && keepable(&regions[i])) regions[i].flags |= KEPT;
}

void mark_inherited(int inherited) {
  int in_order = 1;
  for (int i = 0; i < hdr.nregions; i++) {
    regions[i].flags &= ~KEPT;
    if (i > 0 && regions[i].start < regions[i - 1].end) in_order = 0;
  }
  if (inherited && in_order) for_each_mapping(keep_if_same, 0);
}

static void drop(uint64_t from, uint64_t to) {
  if (to > from) amber_sys3(SYS_madvise, from, to - from, MADV_DONTNEED);
}

int fill_kept(int i) {
  const struct amber_region_rec *r = &regions[i];
  uint64_t at = r->start;
  for (uint32_t k = 0; k < r->nruns; k++) {
    const struct amber_run_rec *run = &runs[r->first_run + k];
    if (run->addr < at) { /* runs out of order: filled as a fresh region after all */
      drop(r->start, r->end);
      return 0;
    }
    at = run->addr + run->npages * AMBER_PAGE;
  }
  at = r->start;
  for (uint32_t k = 0; k < r->nruns; k++) {
    const struct amber_run_rec *run = &runs[r->first_run + k];
    drop(at, run->addr);
    read_compared(run_fd(run), (int)(r->first_run + k));
    at = run->addr + run->npages * AMBER_PAGE;
  }
  drop(at, r->end);
  return 1;
}
