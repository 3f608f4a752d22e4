/* Pre-copy of an incremental image (docs/snapshot-protocol.md, "Pre-copy"): while the program
 * runs, only the pages written since the parent image are copied; every other page stays a
 * reference to the parent. The index it leaves (common/precopy.h) is the whole memory as the
 * image will hold it at the pre-copy: runs of depth 0 in the data file, and runs that refer up
 * the parent's chain. At the freeze the agent takes it as the parent of the image, as without a
 * parent image (agent_precopy.c): a page written since the pre-copy is read again, any other is
 * the index's.
 *
 * Which pages changed since the parent, range by range:
 * - TRACKED: the agent's write-protect bits still hold what was written since the arming whose
 *   state the parent is (the table's dirty_epoch is the parent's, and the range is under async
 *   write-protect on the agent's userfaultfd). One PAGEMAP_SCAN per range reports the written
 *   pages and protects them again in the same pass; only those are read. A page not written
 *   is the parent's (or, absent from the parent, zeros or the file's, as it was).
 * - HASHED: otherwise (the parent is not the last snapshot, the process was restored since, a
 *   mapping made or moved since): the range is armed afresh as without a parent, and every page
 *   that holds data is read and hashed; a page whose hash is the parent's at that address is
 *   referred to.
 * Either way a page read and found the same as the parent's is referred to, one of zeros (of
 * anonymous memory) is left out, and the parent's pages outside the ranges armed stay in the
 * index for the agent to compare at the freeze.
 *
 * Protecting pages again consumes the bits' news: from then on they say what was written since
 * the pre-copy. So the table's dirty_epoch of the process is cleared before any bit is touched
 * (a plain pre-copy's arming clears bits too): if this snapshot does not take the pre-copy
 * (it fails, or is abandoned), the agent hashes its next incremental image rather than trust
 * bits that no longer say what changed since its parent. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../common/dirty_track.h"
#include "../common/hash.h"
#include "ctl_precopy.h"
#include "files.h"

#define API __attribute__((visibility("default")))

enum { UNARMED = 0, HASHED = 1, TRACKED = 2 };

struct precopy_incr {
  /* The parent's index of this process's pages. */
  struct amber_run_rec *runs;
  uint64_t *first, *hashes; /* each run's first page in hashes */
  size_t nruns, cursor;
  /* The pages the parent holds packed (ctl_share_pages.c), in rising order: no run refers to
   * them, so a range tracked copies them as if written. */
  uint64_t *packed;
  size_t npacked;
  int tracking; /* the write-protect bits say what changed since the parent */
  /* Per range of d->ranges: how its changes were found, and its written runs (TRACKED). */
  uint8_t *mode;
  size_t *wfirst, *wcount;
  struct pm_page_region *written;
  size_t nwritten, wcap;
};

static int load_packed(struct precopy_incr *c, int fd, const struct amber_proc_header *h) {
  struct amber_packed_rec *recs = malloc((size_t)h->npacked * sizeof *recs);
  c->packed = malloc((size_t)h->npacked * 8);
  int err = recs && c->packed ? 0 : -ENOMEM;
  if (!err) err = amber_read_at(fd, recs, (size_t)h->npacked * sizeof *recs, (off_t)h->packed_off);
  for (int32_t i = 0; !err && i < h->npacked; i++) {
    if (i && recs[i].addr <= recs[i - 1].addr) err = -EPROTO;
    c->packed[i] = recs[i].addr;
  }
  if (!err) c->npacked = (size_t)h->npacked;
  free(recs);
  return err;
}

/* The parent's index of the process; 1 if the parent has no file for it (it is new since). */
static int load_parent(struct precopy_incr *c, const char *parent_dir, int32_t vpid,
                       uint64_t *epoch) {
  char path[AMBER_CTL_PATH + 64];
  snprintf(path, sizeof path, AMBER_PROC_FILE_FMT, parent_dir, vpid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT || errno == EACCES ? 1 : -errno;
  struct amber_proc_header h;
  ssize_t err = amber_read_at(fd, &h, sizeof h, 0);
  if (!err && !amber_proc_header_ok(&h)) err = -EPROTO;
  if (!err) {
    c->nruns = h.nruns;
    c->runs = malloc((h.nruns ? h.nruns : 1) * sizeof *c->runs);
    c->first = malloc((h.nruns ? h.nruns : 1) * 8);
    c->hashes = malloc((h.npages ? h.npages : 1) * 8);
    if (!c->runs || !c->first || !c->hashes) err = -ENOMEM;
  }
  if (!err) err = amber_read_at(fd, c->runs, h.nruns * sizeof *c->runs, (off_t)h.runs_off);
  if (!err) err = amber_read_at(fd, c->hashes, h.npages * 8, (off_t)h.hashes_off);
  if (!err && h.npacked > 0) err = load_packed(c, fd, &h);
  close(fd);
  uint64_t page = 0;
  for (size_t i = 0; !err && i < c->nruns; i++) c->first[i] = page, page += c->runs[i].npages;
  if (!err && page != h.npages) err = -EPROTO;
  *epoch = h.dirty_epoch;
  return (int)err;
}

int precopy_incr_begin(struct precopy *d, struct amber_table *t, int32_t vpid,
                       const char *parent_dir) {
  struct amber_row *row = amber_row_by_vid(t, AMBER_KIND_PID, vpid);
  uint64_t held = row ? __atomic_exchange_n(&t->dirty_epoch[row - t->rows[AMBER_KIND_PID]], 0,
                                            __ATOMIC_ACQ_REL)
                      : 0;
  if (!parent_dir || !parent_dir[0]) return 0;
  struct precopy_incr *c = calloc(1, sizeof *c);
  if (!c) return -ENOMEM;
  d->incr = c;
  uint64_t epoch = 0;
  int err = load_parent(c, parent_dir, vpid, &epoch);
  if (err == 1) { /* new since the parent: everything is copied, as without one */
    precopy_incr_free(d);
    return 0;
  }
  if (err) return 1; /* the agent fails the snapshot with the reason, or hashes */
  /* A run too far up the chain cannot be referred to: its pages are read, hence hashed. */
  int deep = 0;
  for (size_t i = 0; i < c->nruns; i++) deep |= c->runs[i].depth + 1 >= AMBER_MAX_DEPTH;
  c->tracking = epoch && held == epoch && !deep;
  size_t n = d->nranges ? d->nranges : 1;
  c->mode = calloc(n, 1);
  c->wfirst = calloc(n, sizeof *c->wfirst);
  c->wcount = calloc(n, sizeof *c->wcount);
  return c->mode && c->wfirst && c->wcount ? 0 : -ENOMEM;
}

/* The written pages of r since the parent, protected again; 0, or -errno (the range is then
 * armed afresh and hashed). */
static int take_written(struct precopy *d, struct amber_precopy_range *r) {
  struct precopy_incr *c = d->incr;
  if (!precopy_one_mapping(d, r)) return -EAGAIN;
  /* Not under async write-protect (mapped or moved since): its bits say nothing. */
  struct pm_scan_arg check = pm_wpasync_check(r->start, r->end);
  if (ioctl(d->pagemap, PAGEMAP_SCAN, &check) != 0) return -errno;
  /* Under the agent's registration, not the program's own userfaultfd's (EBUSY). */
  struct amber_uffdio_register reg = {r->start, r->end - r->start, AMBER_UFFDIO_REGISTER_MODE_WP, 0};
  if (ioctl(d->uffd, AMBER_UFFDIO_REGISTER, &reg)) return -errno;
  for (uint64_t at = r->start; at < r->end;) {
    if (c->nwritten == c->wcap &&
        precopy_grow((void **)&c->written, &c->wcap, sizeof *c->written, 4096))
      return -ENOMEM;
    struct pm_scan_arg a =
        pm_written_scan(at, r->end, c->written + c->nwritten, c->wcap - c->nwritten);
    long got = ioctl(d->pagemap, PAGEMAP_SCAN, &a);
    if (got < 0) return -errno;
    c->nwritten += (size_t)got;
    if (a.walk_end <= at) return -EIO;
    at = a.walk_end;
  }
  return 0;
}

static int by_start(const void *a, const void *b) {
  uint64_t x = ((const struct pm_page_region *)a)->start;
  uint64_t y = ((const struct pm_page_region *)b)->start;
  return x < y ? -1 : x > y;
}

/* The parent's packed pages in r that no written run holds join r's written runs, which are
 * c->written[first ..], sorted: both lists in rising order, walked together. */
static int add_packed(struct precopy_incr *c, const struct amber_precopy_range *r, size_t first) {
  size_t scanned = c->nwritten, w = first;
  for (size_t p = 0; p < c->npacked; p++) {
    uint64_t addr = c->packed[p];
    if (addr < r->start || addr >= r->end) continue;
    while (w < scanned && c->written[w].end <= addr) w++;
    if (w < scanned && c->written[w].start <= addr) continue; /* written: copied anyway */
    if (c->nwritten == c->wcap &&
        precopy_grow((void **)&c->written, &c->wcap, sizeof *c->written, 4096))
      return -ENOMEM;
    c->written[c->nwritten++] = (struct pm_page_region){addr, addr + AMBER_PAGE, 0};
  }
  if (c->nwritten > scanned)
    qsort(c->written + first, c->nwritten - first, sizeof *c->written, by_start);
  return 0;
}

int precopy_incr_arm(struct precopy *d, struct amber_precopy_range *r) {
  struct precopy_incr *c = d->incr;
  size_t i = (size_t)(r - d->ranges);
  c->wfirst[i] = c->nwritten;
  if (c->tracking) {
    int err = take_written(d, r);
    if (err == -ENOMEM) return err;
    if (!err) err = add_packed(c, r, c->wfirst[i]);
    if (!err) {
      c->mode[i] = TRACKED;
      c->wcount[i] = c->nwritten - c->wfirst[i];
      return 0;
    }
    c->nwritten = c->wfirst[i];
  }
  int err = precopy_arm(d, r);
  c->mode[i] = err ? UNARMED : HASHED;
  return err;
}

/* The parent's page at addr (looked up in rising order): 1 with where it is, else 0. */
static int parent_page(struct precopy_incr *c, uint64_t addr, struct amber_run_rec *at,
                       uint64_t *hash) {
  while (c->cursor < c->nruns &&
         c->runs[c->cursor].addr + c->runs[c->cursor].npages * AMBER_PAGE <= addr)
    c->cursor++;
  if (c->cursor == c->nruns || c->runs[c->cursor].addr > addr) return 0;
  const struct amber_run_rec *run = &c->runs[c->cursor];
  uint64_t index = (addr - run->addr) / AMBER_PAGE;
  *at = (struct amber_run_rec){addr, 1, run->data_off + index * AMBER_PAGE, run->depth + 1,
                               run->vpid};
  *hash = c->hashes[c->first[c->cursor] + index];
  return at->depth < AMBER_MAX_DEPTH;
}

/* Reads the pieces into d->buf, one after another: in one call whatever their scatter; a
 * piece the program made unreadable through /proc. 0, or -EFAULT. */
static int read_pieces(struct precopy *d, const struct iovec *remote, size_t n, size_t bytes) {
  struct iovec local = {d->buf, bytes};
  if (process_vm_readv(d->pid, &local, 1, remote, n, 0) == (ssize_t)bytes) return 0;
  uint8_t *to = d->buf;
  for (size_t i = 0; i < n; to += remote[i++].iov_len)
    if (pread(d->mem, to, remote[i].iov_len, (off_t)(uintptr_t)remote[i].iov_base) !=
        (ssize_t)remote[i].iov_len)
      return -EFAULT;
  return 0;
}

/* The `count` pages read into d->buf, at addrs: a page of zeros (anonymous) is left out, one
 * the parent holds as it is is referred to, any other is kept; the kept ones, moved together
 * at the buffer's start, are written in one call after the pre-copy's pages. */
static int keep_pages(struct precopy *d, const uint64_t *addrs, size_t count, int file) {
  struct precopy_incr *c = d->incr;
  size_t kept = 0;
  for (size_t k = 0; k < count; k++) {
    uint8_t *page = d->buf + k * AMBER_PAGE;
    uint64_t theirs;
    struct amber_run_rec at;
    if (!file && precopy_zero_page(page)) continue;
    uint64_t hash = amber_hash_copy(page, page, AMBER_PAGE);
    int err;
    if (parent_page(c, addrs[k], &at, &theirs) && theirs == hash) {
      err = precopy_add(d, addrs[k], hash, at.depth, at.vpid, at.data_off);
    } else {
      if (kept != k) memcpy(d->buf + kept * AMBER_PAGE, page, AMBER_PAGE);
      err = precopy_add(d, addrs[k], hash, 0, 0, d->data_end + kept * AMBER_PAGE);
      kept++;
    }
    if (err) return err;
  }
  int err = kept ? precopy_pwrite_all(d->plain_out, d->buf, kept * AMBER_PAGE, (off_t)d->data_end)
                 : 0;
  d->data_end += kept * AMBER_PAGE;
  return err;
}

/* The pages of the n runs w (in rising order), PRECOPY_BATCH at a time whatever their
 * scatter: 1% written is one page in 100, and a read and a write per page cost 20 ms per GiB
 * where one of each per batch costs 2. */
#define GATHER 1024 /* IOV_MAX */
static int copy_runs(struct precopy *d, const struct pm_page_region *w, size_t n, int file) {
  struct iovec remote[GATHER];
  uint64_t addrs[PRECOPY_BATCH];
  size_t k = 0;
  uint64_t at = n ? w[0].start : 0;
  while (k < n) {
    size_t pages = 0, pieces = 0;
    while (k < n && pages < PRECOPY_BATCH && pieces < GATHER) {
      size_t count = (w[k].end - at) / AMBER_PAGE;
      if (count > PRECOPY_BATCH - pages) count = PRECOPY_BATCH - pages;
      remote[pieces++] = (struct iovec){(void *)(uintptr_t)at, count * AMBER_PAGE};
      for (size_t j = 0; j < count; j++) addrs[pages + j] = at + j * AMBER_PAGE;
      pages += count, at += count * AMBER_PAGE;
      if (at >= w[k].end && ++k < n) at = w[k].start;
    }
    int err = read_pieces(d, remote, pieces, pages * AMBER_PAGE);
    if (!err) err = keep_pages(d, addrs, pages, file);
    if (err) return err;
  }
  return 0;
}

int precopy_incr_span(struct precopy *d, uint64_t from, uint64_t to, int file) {
  struct pm_page_region run = {from, to, 0};
  return copy_runs(d, &run, 1, file);
}

int precopy_incr_copy(struct precopy *d, const struct amber_precopy_range *r) {
  struct precopy_incr *c = d->incr;
  size_t i = (size_t)(r - d->ranges);
  if (c->mode[i] != TRACKED) return precopy_copy_range(d, r);
  return copy_runs(d, c->written + c->wfirst[i], c->wcount[i], (r->flags & AMBER_PRECOPY_FILE) != 0);
}

/* The parts of memory whose pages the pre-copy decided (sorted): a range hashed whole, the
 * written runs of a range tracked. The parent's pages elsewhere stay in the index. */
static int decided(struct precopy *d, struct pm_page_region **out, size_t *n) {
  struct precopy_incr *c = d->incr;
  size_t cap = 0;
  *out = NULL, *n = 0;
  for (size_t i = 0; i < d->nranges; i++) {
    const struct amber_precopy_range *r = &d->ranges[i];
    if (!(r->flags & AMBER_PRECOPY_ARMED) || c->mode[i] == UNARMED) continue;
    int tracked = c->mode[i] == TRACKED;
    size_t parts = tracked ? c->wcount[i] : 1;
    for (size_t k = 0; k < parts; k++) {
      if (*n == cap && precopy_grow((void **)out, &cap, sizeof **out, 1024)) return -ENOMEM;
      (*out)[(*n)++] = tracked ? c->written[c->wfirst[i] + k]
                               : (struct pm_page_region){r->start, r->end, 0};
    }
  }
  return 0;
}

struct index {
  struct amber_run_rec *runs;
  uint64_t *hashes;
  size_t nruns, runs_cap, npages, hashes_cap;
};

static int put(struct index *x, const struct amber_run_rec *run, const uint64_t *hashes) {
  if (x->nruns == x->runs_cap && precopy_grow((void **)&x->runs, &x->runs_cap, sizeof *run, 1024))
    return -ENOMEM;
  x->runs[x->nruns++] = *run;
  while (x->npages + run->npages > x->hashes_cap)
    if (precopy_grow((void **)&x->hashes, &x->hashes_cap, 8, 65536)) return -ENOMEM;
  memcpy(x->hashes + x->npages, hashes, run->npages * 8);
  x->npages += run->npages;
  return 0;
}

int precopy_incr_finish(struct precopy *d) {
  struct precopy_incr *c = d->incr;
  struct pm_page_region *skip;
  size_t nskip, s = 0, own = 0, own_page = 0;
  int err = decided(d, &skip, &nskip);
  struct index x = {0};
  /* The parent's runs, less what was decided, merged in address order with the pre-copy's. */
  for (size_t j = 0; !err && j < c->nruns; j++) {
    const struct amber_run_rec *run = &c->runs[j];
    if (run->depth + 1 >= AMBER_MAX_DEPTH) continue; /* its pages are compared at the freeze */
    uint64_t at = run->addr, end = run->addr + run->npages * AMBER_PAGE;
    while (!err && at < end) {
      while (s < nskip && skip[s].end <= at) s++;
      if (s < nskip && skip[s].start <= at) {
        at = skip[s].end < end ? skip[s].end : end;
        continue;
      }
      uint64_t to = s < nskip && skip[s].start < end ? skip[s].start : end;
      for (; !err && own < d->nruns && d->runs[own].addr < at; own_page += d->runs[own++].npages)
        err = put(&x, &d->runs[own], d->hashes + own_page);
      uint64_t index = (at - run->addr) / AMBER_PAGE;
      struct amber_run_rec piece = {at, (to - at) / AMBER_PAGE,
                                    run->data_off + index * AMBER_PAGE, run->depth + 1, run->vpid};
      if (!err) err = put(&x, &piece, c->hashes + c->first[j] + index);
      at = to;
    }
  }
  for (; !err && own < d->nruns; own_page += d->runs[own++].npages)
    err = put(&x, &d->runs[own], d->hashes + own_page);
  free(skip);
  if (err) {
    free(x.runs), free(x.hashes);
    return err;
  }
  free(d->runs), free(d->hashes);
  d->runs = x.runs, d->nruns = x.nruns, d->runs_cap = x.runs_cap;
  d->hashes = x.hashes, d->npages = x.npages, d->hashes_cap = x.hashes_cap;
  return 0;
}

void precopy_incr_free(struct precopy *d) {
  struct precopy_incr *c = d->incr;
  if (!c) return;
  free(c->runs), free(c->first), free(c->hashes), free(c->packed);
  free(c->mode), free(c->wfirst), free(c->wcount), free(c->written);
  free(c);
  d->incr = NULL;
}

/* Pre-copies the process `vpid` into DIR for an image incremental on the one in PARENT_DIR:
 * as amber_ctl_precopy (ctl_precopy.c), copying only what changed since the parent. */
API int32_t amber_ctl_precopy_incremental(void *table, int32_t vpid, const char *dir,
                                          const char *parent_dir, int32_t sync) {
  return precopy_run(table, vpid, dir, parent_dir, sync);
}
