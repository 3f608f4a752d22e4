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

/* A region that was mapped from an image (FROM_IMAGE, after a lazy restore) is private memory
 * as any other here: an eager restore maps it anonymous, as its parent's. */
static int keepable(const struct amber_region_rec *r) {
  return r->kind == AMBER_REGION_ANON && !(r->flags & AMBER_REGION_GROWSDOWN);
}

/* The first region that ends after addr, by bisection (mark_inherited checked their order). */
static int first_region_after(uint64_t addr) {
  int lo = 0, hi = hdr.nregions;
  while (lo < hi) {
    int mid = lo + (hi - lo) / 2;
    if (regions[mid].end <= addr) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

static int any_kept;

int unmap_but_kept(const struct mapping *m) {
  int n = 0;
  uint64_t at = m->start;
  for (int i = any_kept ? first_region_after(m->start) : hdr.nregions;
       i < hdr.nregions && regions[i].start < m->end; i++) {
    if (!region_kept(&regions[i])) continue;
    if (regions[i].start > at) amber_sys2(SYS_munmap, at, regions[i].start - at), n++;
    if (regions[i].end > at) at = regions[i].end;
  }
  if (at < m->end) amber_sys2(SYS_munmap, at, m->end - at), n++;
  return n;
}

/* Each region an inherited private anonymous mapping holds whole: the parent's region at the
 * same place, or a part of it (a lazy restore splits regions where the files they are mapped
 * from change, and parent and child had different files). */
static void keep_if_same(const struct mapping *m, void *ctx) {
  if (!m->anon_private) return;
  for (int i = first_region_after(m->start); i < hdr.nregions && regions[i].start < m->end; i++)
    if (regions[i].start >= m->start && regions[i].end <= m->end && keepable(&regions[i]))
      regions[i].flags |= KEPT, any_kept = 1;
}

void mark_inherited(int inherited) {
  int in_order = 1;
  any_kept = 0;
  for (int i = 0; i < hdr.nregions; i++) {
    regions[i].flags &= ~KEPT;
    if (i > 0 && regions[i].start < regions[i - 1].end) in_order = 0;
  }
  if (inherited && in_order) for_each_mapping(keep_if_same, 0);
}

static void drop(uint64_t from, uint64_t to) {
  drop_but_packed(from, to); /* packed.c: those are written with the region */
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
