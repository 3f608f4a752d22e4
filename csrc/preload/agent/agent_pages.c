/* Writing a process's pages (agent_pages.h). Runs on the checkpoint leader in the signal
 * handler: raw system calls, memory from mmap only. */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include "../../common/hash.h"
#include "../../common/pagemap_scan.h"
#include "agent_defer.h"
#include "agent_pages.h"
#include "agent_shmem.h"

#define PM_PRESENT (1ULL << 63)
#define PM_SWAPPED (1ULL << 62)
#define PM_FILE (1ULL << 61)

struct page_parent {
  struct amber_run_rec *runs;
  uint64_t *first_page; /* index into hashes of each run's first page */
  uint64_t *hashes;
  int nruns;
  uint64_t npages, bytes;
  uint64_t dirty_epoch; /* agent_track.c */
  int same_file; /* a pre-copy's index (agent_precopy.c): its pages are in this image's file */
  int (*load)(void); /* reads `hashes` in at their first use (a pre-copy's), or 0 */
  /* The addresses of the pages it holds packed (image.h), in rising order: not in its runs, yet
   * not zeros. */
  uint64_t *packed;
  int32_t npacked;
};

static int failed(const char *what, long err) {
  amber_fmt_error(amber_ckpt.error, sizeof amber_ckpt.error, what, err);
  return err < 0 ? (int)err : -EIO;
}

static void *map_anon(uint64_t bytes) {
  long addr = amber_sys6(SYS_mmap, 0, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                         -1, 0);
  return addr < 0 && addr > -4096 ? 0 : (void *)addr;
}

/* Doubles an anonymous buffer; 0 on success. */
static int grow(void **buf, uint64_t *cap, uint64_t elem) {
  uint64_t old = *cap * elem, cap2 = *cap ? *cap * 2 : 4096;
  long addr = *buf ? amber_sys5(SYS_mremap, *buf, old, cap2 * elem, MREMAP_MAYMOVE, 0)
                   : (long)map_anon(cap2 * elem);
  if (!addr || (addr < 0 && addr > -4096)) return -ENOMEM;
  *buf = (void *)addr;
  *cap = cap2;
  return 0;
}

long pages_read_at(int fd, void *buf, uint64_t len, uint64_t off) {
  for (char *p = buf; len;) {
    long n = amber_sys4(SYS_pread64, fd, p, len, off);
    if (n == -EINTR) continue;
    if (n <= 0) return n < 0 ? n : -EIO;
    p += n, len -= n, off += n;
  }
  return 0;
}

int pages_load_parent(const char *parent_dir, int32_t vpid, const struct page_parent **out) {
  *out = 0;
  char path[AMBER_CTL_PATH + 32];
  amber_fmt(path, sizeof path, AMBER_PROC_FILE_FMT, parent_dir, vpid);
  int fd = (int)amber_sys3(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
  if (fd == -ENOENT) return 0; /* a process the parent did not have: everything is new */
  if (fd == -EACCES) return 0; /* one that runs as another user may not read it: the same */
  if (fd < 0) return failed("cannot open the parent image", fd);
  static struct amber_proc_header h;
  long err = pages_read_at(fd, &h, sizeof h, 0);
  if (!err && !amber_proc_header_ok(&h)) err = -EPROTO;
  uint64_t runs_bytes = (uint64_t)h.nruns * sizeof(struct amber_run_rec);
  int32_t npacked = !err && h.npacked > 0 ? h.npacked : 0;
  uint64_t bytes = sizeof(struct page_parent) + runs_bytes + (uint64_t)h.nruns * 8 + h.npages * 8 +
                   (uint64_t)npacked * (8 + sizeof(struct amber_packed_rec));
  struct page_parent *p = err ? 0 : map_anon(bytes);
  if (!err && !p) err = -ENOMEM;
  if (!err) {
    p->bytes = bytes;
    p->nruns = h.nruns;
    p->npages = h.npages;
    p->dirty_epoch = h.dirty_epoch;
    p->runs = (struct amber_run_rec *)(p + 1);
    p->first_page = (uint64_t *)((char *)p->runs + runs_bytes);
    p->hashes = p->first_page + h.nruns;
    p->packed = p->hashes + h.npages;
    p->npacked = npacked;
    err = pages_read_at(fd, p->runs, runs_bytes, h.runs_off);
    if (!err) err = pages_read_at(fd, p->hashes, h.npages * 8, h.hashes_off);
    /* The records are read after the addresses' room, then their addresses kept. */
    struct amber_packed_rec *recs = (struct amber_packed_rec *)(p->packed + npacked);
    if (!err) err = pages_read_at(fd, recs, (uint64_t)npacked * sizeof *recs, h.packed_off);
    for (int32_t i = 0; i < npacked && !err; i++) {
      p->packed[i] = recs[i].addr;
      if (i && recs[i].addr <= recs[i - 1].addr) err = -EPROTO;
    }
    uint64_t page = 0;
    for (int i = 0; i < p->nruns; i++) p->first_page[i] = page, page += p->runs[i].npages;
    if (!err && page != h.npages) err = -EPROTO;
  }
  amber_sys1(SYS_close, fd);
  if (err) {
    if (p) amber_sys2(SYS_munmap, p, bytes);
    return failed("cannot read the parent image's index of pages", err);
  }
  *out = p;
  return 0;
}

uint64_t pages_parent_epoch(const struct page_parent *parent) {
  return parent ? parent->dirty_epoch : 0;
}

void pages_release_parent(const struct page_parent *parent) {
  if (parent) amber_sys2(SYS_munmap, parent, parent->bytes);
}

/* The parent's copy of the page at addr: 1 with its depth (from here), the process file it is in
 * (vpid, 0: this process's), offset and hash; 2 if the parent's chain is too long to refer to
 * it; 0 if the parent has none. Pages are looked up in rising order, so a cursor walks the
 * parent's runs. */
static int parent_page(struct page_writer *w, uint64_t addr, uint32_t *depth, int32_t *vpid,
                       uint64_t *off, uint64_t *hash) {
  const struct page_parent *p = w->parent;
  if (!p) return 0;
  if (p->load) { /* after the thaw, where the write is deferred (agent_defer.h) */
    int err = p->load();
    if (err) return failed("cannot read the pre-copy's index of pages", err);
    ((struct page_parent *)p)->load = 0;
  }
  while (w->parent_cursor < p->nruns &&
         p->runs[w->parent_cursor].addr + p->runs[w->parent_cursor].npages * AMBER_PAGE <= addr)
    w->parent_cursor++;
  if (w->parent_cursor == p->nruns) return 0;
  const struct amber_run_rec *run = &p->runs[w->parent_cursor];
  if (run->addr > addr) return 0;
  if (!p->same_file && run->depth + 1 >= AMBER_MAX_DEPTH) return 2;
  uint64_t index = (addr - run->addr) / AMBER_PAGE;
  *hash = p->hashes[p->first_page[w->parent_cursor] + index];
  *depth = p->same_file ? run->depth : run->depth + 1;
  *vpid = run->vpid;
  *off = run->data_off + index * AMBER_PAGE;
  return 1;
}

/* The first of the parent's packed pages at or after addr (its npacked if none). */
static int32_t packed_from(const struct page_parent *p, uint64_t addr) {
  int32_t lo = 0, hi = p ? p->npacked : 0;
  while (lo < hi) {
    int32_t mid = lo + (hi - lo) / 2;
    if (p->packed[mid] < addr) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/* Does the parent hold the page at addr packed (it must be read: it is not zeros)? */
static int parent_packed(const struct page_parent *p, uint64_t addr) {
  int32_t i = packed_from(p, addr);
  return p && i < p->npacked && p->packed[i] == addr;
}

/* As parent_page, for the pages from addr up to `limit`: how many of them the parent's run
 * holds from there (*count), and their hashes. */
static int parent_block(struct page_writer *w, uint64_t addr, uint64_t limit, uint32_t *depth,
                        int32_t *vpid, uint64_t *off, const uint64_t **hashes, uint64_t *count) {
  uint64_t hash;
  int found = parent_page(w, addr, depth, vpid, off, &hash);
  if (found != 1) return found;
  const struct page_parent *p = w->parent;
  const struct amber_run_rec *run = &p->runs[w->parent_cursor];
  uint64_t index = (addr - run->addr) / AMBER_PAGE, left = run->npages - index;
  uint64_t until = (limit - addr) / AMBER_PAGE;
  *count = left < until ? left : until;
  *hashes = p->hashes + p->first_page[w->parent_cursor] + index;
  return 1;
}

/* Every page is copied into the stage as it is hashed (one pass, amber_hash_copy) and written
 * from the copy: its hash is that of the bytes in the file, whatever changes the page meanwhile
 * (the agent's own stack and data, a thread's rseq area that the kernel updates when the thread
 * moves to another CPU, a waiting thread's stack). The restorer checks each page against it, and
 * an incremental image refers to its parent's copy of a page only if the hashes are equal. The
 * stage is small enough to stay in the cache, so the write that follows reads it from there. */
#define STAGE_PAGES 128
static char *stage;
static int staged; /* its pages that the batch's runs hold */

/* The pending run's pages of this image that are in the stage but not yet in the batch: from
 * pending_from, the last pending_staged of its pages. A run goes on across a full stage, written
 * in pieces, so that a run of memory stays one run of the file (one mapping for a lazy restore). */
static const char *pending_from;
static uint64_t pending_staged;

/* Runs of pages of this image follow one another in the file: up to BATCH of them, from the
 * stage, go out in one system call (pwritev). The batch is written before the stage is
 * used again, and before the file's later sections. */
#define BATCH 512
static struct iovec batch[BATCH];
static int batched;
static uint64_t batch_off, batch_end;

/* Where the pending run's pages of this image are: appended, the pre-copy's already in this
 * file (KEPT), or written over the pre-copy's stale copies of them (IN_PLACE), so that no page
 * of the file is left that no run refers to. */
enum { APPENDED = 0, KEPT = 1, IN_PLACE = 2 };
static uint32_t pending_how;

/* This file's state as the image holds it is mid-write (its page was saved then): a restored
 * process starts its next snapshot afresh, with no batch and no stage. */
void pages_begin(void) {
  batched = 0;
  pending_staged = 0;
  stage = 0;
  staged = 0;
}

int pages_write_batch(struct page_writer *w) {
  if (!batched) return 0;
  int err = amber_sink_writev(w->sink, batch, batched, batch_off);
  batched = 0;
  return err ? failed("cannot write memory to the image", err) : 0;
}

static int batch_staged(struct page_writer *w) {
  if (w->pending.depth || pending_how == KEPT || !pending_staged) return 0;
  uint64_t bytes = pending_staged * AMBER_PAGE;
  uint64_t at = w->pending.data_off + w->pending.npages * AMBER_PAGE - bytes;
  int err = batched == BATCH || (batched && at != batch_end) ? pages_write_batch(w) : 0;
  if (err) return err;
  if (!batched) batch_off = at;
  batch_end = at + bytes;
  batch[batched++] = (struct iovec){(void *)pending_from, bytes};
  pending_from += bytes;
  pending_staged = 0;
  return 0;
}

/* The pending run is complete: its last pages join the batch, and the run the index. */
static int write_pending(struct page_writer *w) {
  struct amber_run_rec *run = &w->pending;
  if ((uint64_t)w->nruns == w->max_runs && grow((void **)&w->runs, &w->max_runs, sizeof *run))
    return failed("no memory for the index of pages", -ENOMEM);
  int err = batch_staged(w);
  if (err) return err;
  w->runs[w->nruns++] = *run;
  run->npages = 0;
  return 0;
}

/* The pending run is complete: its pages of this image join the batch. */
int pages_flush(struct page_writer *w) {
  return w->pending.npages ? write_pending(w) : 0;
}

/* Adds one page to the pending run, or starts another: the parent's copy at depth and off, or
 * with depth 0 this image's, whose copy is at `copy`, or, without a copy, already in this
 * image's file at off (a pre-copy's: pending_how says so). */
static int add_page_at(struct page_writer *w, uint64_t addr, uint64_t hash, const char *copy,
                       uint32_t depth, int32_t vpid, uint64_t off) {
  struct amber_run_rec *run = &w->pending;
  uint32_t how = depth ? APPENDED : !copy ? KEPT : off ? IN_PLACE : APPENDED;
  int extends = run->npages && run->addr + run->npages * AMBER_PAGE == addr &&
                run->depth == depth && run->vpid == vpid && pending_how == how &&
                ((depth == 0 && how == APPENDED) || run->data_off + run->npages * AMBER_PAGE == off);
  if (!extends) {
    int err = pages_flush(w);
    if (err) return err;
    *run = (struct amber_run_rec){addr, 0, depth || how ? off : w->data_end, depth, depth ? vpid : 0};
    pending_how = how;
    pending_from = copy;
  }
  run->npages++;
  if (depth == 0 && how != KEPT) pending_staged++;
  if (depth == 0 && how == APPENDED) w->data_end += AMBER_PAGE;
  if (w->npages == w->max_pages && grow((void **)&w->hashes, &w->max_pages, 8))
    return failed("no memory for the page hashes", -ENOMEM);
  w->hashes[w->npages++] = hash;
  return 0;
}

/* Adds n pages that the parent (or the pre-copy, depth 0) holds from off, with their hashes. */
static int add_block(struct page_writer *w, uint64_t addr, uint64_t n, const uint64_t *hashes,
                     uint32_t depth, int32_t vpid, uint64_t off) {
  int err = add_page_at(w, addr, hashes[0], 0, depth, vpid, off);
  if (err || n == 1) return err;
  w->pending.npages += n - 1;
  while (w->npages + n - 1 > w->max_pages)
    if (grow((void **)&w->hashes, &w->max_pages, 8))
      return failed("no memory for the page hashes", -ENOMEM);
  memcpy(w->hashes + w->npages, hashes + 1, (n - 1) * 8);
  w->npages += n - 1;
  return 0;
}

/* 1 if the page's copy is used (this image holds it anew), 0 if not, or -errno. A page the
 * pre-copy holds otherwise is written over its stale copy. */
static int add_page(struct page_writer *w, uint64_t addr, uint64_t hash, const char *copy) {
  uint32_t depth = 0;
  int32_t vpid = 0;
  uint64_t off = 0, theirs = 0;
  int found = parent_page(w, addr, &depth, &vpid, &off, &theirs);
  if (found < 0) return found;
  found = found == 1;
  if (found && theirs == hash) {
    int err = add_page_at(w, addr, hash, depth ? copy : 0, depth, vpid, off);
    return err ? err : 0;
  }
  int in_place = found && depth == 0 && w->parent->same_file;
  int err = add_page_at(w, addr, hash, copy, 0, 0, in_place ? off : 0);
  return err ? err : 1;
}

/* The region being saved: made readable (for the hashes and the copy) only if it has a page
 * to save, and only while it is saved. */
struct region_save {
  struct page_writer *w;
  const struct amber_region_rec *r;
  int opened;
};

static int stage_page(struct page_writer *w, uint64_t addr, const void *src) {
  if (!stage && !(stage = map_anon(STAGE_PAGES * AMBER_PAGE)))
    return failed("no memory to copy pages through", -ENOMEM);
  if (staged == STAGE_PAGES) {
    int err = batch_staged(w);
    if (!err) err = pages_write_batch(w);
    if (err) return err;
    staged = 0;
    pending_from = stage; /* where the pending run's next page goes */
  }
  char *copy = stage + (uint64_t)staged * AMBER_PAGE;
  int used = add_page(w, addr, amber_hash_copy(copy, src, AMBER_PAGE), copy);
  if (used > 0) staged++; /* a page of the parent's, or the pre-copy's, needs no copy */
  return used < 0 ? used : 0;
}

/* A page that holds only zeros, of anonymous memory (which a restore maps as zeros), takes no
 * room and no write: the restore leaves it untouched. Most pages of data fail at the first
 * word. */
static int zero_page(const struct amber_region_rec *r, const void *src) {
  if (r->kind != AMBER_REGION_ANON && r->kind != AMBER_REGION_ANON_SHARED) return 0;
  const uint64_t *p = src;
  for (int i = 0; i < AMBER_PAGE / 8; i += 8)
    if (p[i] | p[i + 1] | p[i + 2] | p[i + 3] | p[i + 4] | p[i + 5] | p[i + 6] | p[i + 7]) return 0;
  return 1;
}

static int save_range(void *ctx, uint64_t from, uint64_t to) {
  struct region_save *c = ctx;
  /* Replayed after the thaw: the pages are the copies taken frozen, and the program's
   * protection is its own again. */
  if (!c->opened && !(c->r->prot & PROT_READ) && amber_defer_mode != AMBER_DEFER_REPLAY) {
    long e = amber_sys3(SYS_mprotect, c->r->start, c->r->end - c->r->start, c->r->prot | PROT_READ);
    if (e) return failed("cannot read memory the program made unreadable (sealed with mseal?)", e);
  }
  c->opened = 1;
  if (amber_defer_mode == AMBER_DEFER_RECORD)
    return amber_defer_copy(from, to) ? failed("no memory to keep pages in", -ENOMEM) : 0;
  int err = 0;
  for (uint64_t page = from; page < to && !err; page += AMBER_PAGE) {
    const void *src = amber_defer_page(page);
    if (!src) return failed("a page was not recorded", -EIO);
    err = zero_page(c->r, src) ? pages_flush(c->w) : stage_page(c->w, page, src);
  }
  return err;
}

/* Does a run of pages alike need saving? A clean page of a file comes back from the file, and
 * the shared zero page (memory only read) as zeros. */
static int worth_saving(const struct amber_region_rec *r, uint64_t categories) {
  if (categories & PAGE_IS_SWAPPED) return 1;
  if (categories & PAGE_IS_PFNZERO) return 0;
  return r->kind == AMBER_REGION_ANON || !(categories & PAGE_IS_FILE);
}

/* The pages that hold data, as runs of pages alike (common/pagemap_scan.h). 1 if the kernel
 * has no PAGEMAP_SCAN, else 0 or -errno. */
static int scan_region(struct region_save *c) {
  static struct pm_page_region vec[512];
  const struct amber_region_rec *r = c->r;
  for (uint64_t at = r->start; at < r->end;) {
    struct pm_scan_arg a = pm_data_scan(at, r->end, vec, 512);
    long n = amber_defer_scan(c->w->pagemap_fd, &a);
    if ((n == -ENOTTY || n == -EINVAL) && amber_defer_mode == AMBER_DEFER_LIVE) return 1;
    if (n < 0) return failed("cannot scan /proc/self/pagemap", n);
    for (long i = 0; i < n; i++) {
      int err = worth_saving(r, vec[i].categories) ? save_range(c, vec[i].start, vec[i].end)
                                                    : pages_flush(c->w);
      if (err) return err;
    }
    if (a.walk_end <= at) return failed("cannot scan /proc/self/pagemap", -EIO);
    at = a.walk_end;
  }
  return 0;
}

/* Without PAGEMAP_SCAN: pagemap, read in batches of 4096 entries. */
static int read_region(struct region_save *c) {
  static uint64_t pagemap[4096];
  const struct amber_region_rec *r = c->r;
  int err = 0;
  for (uint64_t page = r->start; page < r->end && !err;) {
    uint64_t batch = (r->end - page) / AMBER_PAGE;
    if (batch > 4096) batch = 4096;
    long n = amber_sys4(SYS_pread64, c->w->pagemap_fd, pagemap, batch * 8, page / AMBER_PAGE * 8);
    if (n != (long)(batch * 8)) return failed("cannot read /proc/self/pagemap", n < 0 ? n : -EIO);
    for (uint64_t i = 0; i < batch && !err; i++, page += AMBER_PAGE) {
      uint64_t e = pagemap[i], categories = (e & PM_PRESENT ? PAGE_IS_PRESENT : 0) |
                                            (e & PM_SWAPPED ? PAGE_IS_SWAPPED : 0) |
                                            (e & PM_FILE ? PAGE_IS_FILE : 0);
      err = categories && worth_saving(r, categories) ? save_range(c, page, page + AMBER_PAGE)
                                                      : pages_flush(c->w);
    }
  }
  return err;
}

/* Recording a deferred write (frozen): of [from, to), only what the write will read is
 * copied, the written pages and the parent's packed ones (a swapped run whole), found run by run
 * rather than page by page (8 GiB is 2 million pages, some 10 ms frozen); in rising order, as
 * the write reads them. *k moves on as tracked_run's page by page would. */
static int record_run(struct region_save *c, uint64_t from, uint64_t to, int swapped,
                      const struct pm_page_region *dirty, uint64_t ndirty, uint64_t *k) {
  if (from >= to) return 0;
  const struct page_parent *p = c->w->parent;
  int32_t npacked = p ? p->npacked : 0, q = packed_from(p, from);
  int err = swapped ? save_range(c, from, to) : 0;
  for (uint64_t at = from, j = *k; !swapped && !err && at < to;) {
    while (j < ndirty && dirty[j].end <= at) j++;
    uint64_t start = j < ndirty && dirty[j].start < to ? dirty[j].start : to;
    if (start < at) start = at;
    for (; !err && q < npacked && p->packed[q] < start; q++) /* packed, not written */
      err = save_range(c, p->packed[q], p->packed[q] + AMBER_PAGE);
    if (err || start >= to) break;
    uint64_t end = dirty[j].end < to ? dirty[j].end : to;
    err = save_range(c, start, end);
    for (; q < npacked && p->packed[q] < end; q++) {} /* written: copied already */
    at = end;
  }
  while (*k < ndirty && dirty[*k].end <= to - AMBER_PAGE) ++*k;
  return err;
}

/* The pages [from, to) of a tracked region that hold data (swapped: not in memory). */
static int tracked_run(struct region_save *c, uint64_t from, uint64_t to, int swapped,
                       const struct pm_page_region *dirty, uint64_t ndirty, uint64_t *k) {
  if (amber_defer_mode == AMBER_DEFER_RECORD) return record_run(c, from, to, swapped, dirty, ndirty, k);
  struct page_writer *w = c->w;
  int err = 0;
  for (uint64_t page = from, step; page < to && !err; page += step) {
    step = AMBER_PAGE;
    while (*k < ndirty && dirty[*k].end <= page) ++*k;
    int read = swapped || (*k < ndirty && dirty[*k].start <= page) ||
               parent_packed(w->parent, page);
    uint32_t depth = 0;
    int32_t vpid = 0;
    uint64_t off = 0, count = 1;
    const uint64_t *hashes = 0;
    /* Up to the next written page, the parent's run: taken whole. */
    uint64_t limit = *k < ndirty && dirty[*k].start < to ? dirty[*k].start : to;
    int theirs = read ? 0 : parent_block(w, page, limit, &depth, &vpid, &off, &hashes, &count);
    if (theirs < 0) err = theirs;
    else if (read || theirs == 2) err = save_range(c, page, page + AMBER_PAGE);
    else if (theirs) err = add_block(w, page, count, hashes, depth, vpid, off), step = count * AMBER_PAGE;
    else err = pages_flush(w); /* as it was: zeros, or the file's */
  }
  return err;
}

/* Of anonymous memory, which pages are there is all it takes (a page of zeros there and not
 * written since is in no image: zeros still). The walk asks for the pages that are not there
 * (inverted PAGE_IS_PRESENT; swapped ones, and uffd-wp markers, are read): reporting nothing
 * for memory that is all there, it costs some 1 ms per GiB, where the categories that look at
 * each page's struct page (PAGE_IS_FILE, PAGE_IS_PFNZERO) cost some 100. */
static int tracked_anon(struct region_save *c, const struct pm_page_region *dirty,
                        uint64_t ndirty) {
  static struct pm_page_region vec[512];
  const struct amber_region_rec *r = c->r;
  uint64_t k = 0, there = r->start; /* pages from `there` up to the next hole are there */
  int err = 0;
  for (uint64_t at = r->start; at < r->end && !err;) {
    struct pm_scan_arg a = pm_data_scan(at, r->end, vec, 512);
    a.category_inverted = PAGE_IS_PRESENT, a.category_mask = PAGE_IS_PRESENT;
    a.category_anyof_mask = 0, a.return_mask = PAGE_IS_SWAPPED;
    long n = amber_defer_scan(c->w->pagemap_fd, &a);
    if (n < 0) return failed("cannot scan /proc/self/pagemap", n);
    for (long i = 0; i < n && !err; i++) {
      if (vec[i].start > there) err = tracked_run(c, there, vec[i].start, 0, dirty, ndirty, &k);
      if (!err && (vec[i].categories & PAGE_IS_SWAPPED))
        err = tracked_run(c, vec[i].start, vec[i].end, 1, dirty, ndirty, &k);
      else if (!err)
        err = pages_flush(c->w);
      there = vec[i].end;
    }
    if (!err && a.walk_end <= at) err = failed("cannot scan /proc/self/pagemap", -EIO);
    at = a.walk_end;
  }
  if (!err && there < r->end) err = tracked_run(c, there, r->end, 0, dirty, ndirty, &k);
  return err;
}

/* A tracked region (agent_track.c): a page present and not written since the parent image is
 * the parent's copy, taken without reading it; a written or swapped page is read and compared
 * as without tracking; a page not present is zeros, or the file's. */
int pages_save_tracked(struct page_writer *w, struct amber_region_rec *r,
                       const struct pm_page_region *dirty, uint64_t ndirty) {
  static struct pm_page_region vec[512];
  r->first_run = w->nruns;
  struct region_save c = {w, r, 0};
  uint64_t k = 0;
  int err = 0;
  if (r->kind == AMBER_REGION_ANON) err = tracked_anon(&c, dirty, ndirty);
  for (uint64_t at = r->start; r->kind != AMBER_REGION_ANON && at < r->end && !err;) {
    struct pm_scan_arg a = pm_data_scan(at, r->end, vec, 512);
    long n = amber_defer_scan(w->pagemap_fd, &a);
    if (n < 0) return failed("cannot scan /proc/self/pagemap", n);
    for (long i = 0; i < n && !err; i++)
      err = worth_saving(r, vec[i].categories)
                ? tracked_run(&c, vec[i].start, vec[i].end,
                              (vec[i].categories & PAGE_IS_SWAPPED) != 0, dirty, ndirty, &k)
                : pages_flush(w);
    if (!err && a.walk_end <= at) err = failed("cannot scan /proc/self/pagemap", -EIO);
    at = a.walk_end;
  }
  if (!err) err = pages_flush(w);
  if (c.opened && !(r->prot & PROT_READ) && amber_defer_mode != AMBER_DEFER_REPLAY)
    amber_sys3(SYS_mprotect, r->start, r->end - r->start, r->prot);
  r->nruns = w->nruns - r->first_run;
  return err;
}

int pages_save_region(struct page_writer *w, struct amber_region_rec *r, int whole) {
  r->first_run = w->nruns;
  if (r->kind != AMBER_REGION_ANON && r->kind != AMBER_REGION_ANON_SHARED &&
      r->kind != AMBER_REGION_FILE)
    return 0;
  struct region_save c = {w, r, 0};
  int err = 0;
  /* Pages a lazy restore mapped from an image are data too, read in or not. */
  if (whole || (r->flags & AMBER_REGION_FROM_IMAGE)) err = save_range(&c, r->start, r->end);
  /* Shared memory: every page its object holds, saved by its owner alone (agent_shmem.h). */
  else if (r->kind == AMBER_REGION_ANON_SHARED) {
    if (r->owner_vpid == amber.vpid) err = amber_shmem_data_ranges(r, save_range, &c);
  } else if ((err = scan_region(&c)) == 1)
    err = read_region(&c);
  if (!err) err = pages_flush(w);
  if (c.opened && !(r->prot & PROT_READ))
    amber_sys3(SYS_mprotect, r->start, r->end - r->start, r->prot);
  r->nruns = w->nruns - r->first_run;
  return err;
}

void pages_release(struct page_writer *w) {
  batched = 0; /* what a failure left unwritten */
  pending_staged = 0;
  if (stage) amber_sys2(SYS_munmap, stage, STAGE_PAGES * AMBER_PAGE);
  stage = 0;
  staged = 0;
  if (w->hashes) amber_sys2(SYS_munmap, w->hashes, w->max_pages * 8);
  if (w->runs) amber_sys2(SYS_munmap, w->runs, w->max_runs * sizeof *w->runs);
  w->hashes = 0;
  w->runs = 0;
  pages_release_parent(w->parent);
  w->parent = 0;
}

int pages_take_runs(struct page_writer *w, const struct amber_run_rec *runs, int n,
                    const uint64_t *hashes) {
  for (int i = 0; i < n; i++) {
    if ((uint64_t)w->nruns == w->max_runs && grow((void **)&w->runs, &w->max_runs, sizeof *runs))
      return failed("no memory for the index of pages", -ENOMEM);
    w->runs[w->nruns++] = runs[i];
    for (uint64_t p = 0; p < runs[i].npages; p++) {
      if (w->npages == w->max_pages && grow((void **)&w->hashes, &w->max_pages, 8))
        return failed("no memory for the page hashes", -ENOMEM);
      w->hashes[w->npages++] = *hashes++;
    }
  }
  return 0;
}

int pages_base(const struct amber_run_rec *runs, int nruns, const uint64_t *hashes,
               uint64_t npages, int (*load)(void), const struct page_parent **out) {
  uint64_t bytes = sizeof(struct page_parent) + (uint64_t)nruns * 8;
  struct page_parent *p = map_anon(bytes);
  if (!p) return failed("no memory for the pre-copy's index of pages", -ENOMEM);
  p->bytes = bytes;
  p->nruns = nruns;
  p->npages = npages;
  p->same_file = 1;
  p->load = load;
  p->runs = (struct amber_run_rec *)runs; /* the caller's, kept until this is released */
  p->first_page = (uint64_t *)(p + 1);
  p->hashes = (uint64_t *)hashes;
  uint64_t page = 0;
  for (int i = 0; i < nruns; i++) p->first_page[i] = page, page += runs[i].npages;
  if (page != npages) { /* pages would take the hashes of others: written as without */
    amber_sys2(SYS_munmap, p, bytes);
    amber_log("the pre-copy's index has %ld pages and %ld hashes: not used", (long)page,
              (long)npages);
    return -EPROTO;
  }
  *out = p;
  return 0;
}
