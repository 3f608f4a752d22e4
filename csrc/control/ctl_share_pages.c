/* Pages shared after a fork are stored once (docs/cow-sharing.md). A forked child's private
 * pages that are still its parent's (copy-on-write, never written since) are saved by both
 * agents, each into its own process file. Once every process file of an image is written, and
 * before the manifest hashes them, this pass rewrites a child's file so that each such page is a
 * reference to the same page in its parent's file (a run with `vpid`, image.h) instead of a
 * copy. A page is referred to only if it is at the same address in both, with the same hash,
 * and its bytes are the same: the reference is never wrong, whatever the guess that they are
 * shared. The hashes stay in the child's file, in the same order: the restore checks the page
 * it reads from the parent's file against the child's own hash.
 *
 * The same pass packs the pages of every process file (a root's too) that hold mostly zeros
 * (common/packed_page.h): each leaves the runs and the table of hashes for the file's packed
 * section, with its hash. A page of the parent's that is packed is not referred to: the child
 * packs its own copy. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/image.h"
#include "../common/image_check.h"
#include "../common/packed_page.h"
#include "control.h"
#include "files.h"

#define API __attribute__((visibility("default")))

struct proc_file {
  int fd;
  uint64_t size;
  struct amber_proc_header h;
  struct amber_region_rec *regions;
  struct amber_run_rec *runs;
  uint64_t *hashes, *first_page; /* each run's first page in hashes */
  uint8_t *packed;                /* its packed section, as it is */
};

static int write_at(int fd, const void *buf, uint64_t len, uint64_t off) {
  for (const char *p = buf; len;) {
    ssize_t n = pwrite(fd, p, len, (off_t)off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n < 0 ? -errno : -EIO;
    p += n, len -= (uint64_t)n, off += (uint64_t)n;
  }
  return 0;
}

static void release(struct proc_file *f) {
  if (f->fd >= 0) close(f->fd);
  free(f->regions);
  free(f->runs);
  free(f->hashes);
  free(f->first_page);
  free(f->packed);
  memset(f, 0, sizeof *f);
  f->fd = -1;
}

/* The process file of vpid in dir, its tables checked (image_check.h); 0 or -errno. */
static int load(const char *dir, int32_t vpid, struct proc_file *f) {
  memset(f, 0, sizeof *f);
  char path[4200];
  snprintf(path, sizeof path, AMBER_PROC_FILE_FMT, dir, vpid);
  f->fd = amber_open_regular(path, O_RDONLY);
  if (f->fd < 0) return f->fd;
  struct stat st;
  if (fstat(f->fd, &st)) return -errno;
  f->size = (uint64_t)st.st_size;
  int err = amber_read_at(f->fd, &f->h, sizeof f->h, 0);
  if (!err && (amber_image_header_problem(&f->h, f->size) || f->h.vpid != vpid)) err = -EPROTO;
  if (err) return err;
  f->regions = malloc((uint64_t)f->h.nregions * sizeof *f->regions + 1);
  f->runs = malloc((uint64_t)f->h.nruns * sizeof *f->runs + 1);
  f->hashes = malloc(f->h.npages * 8 + 1);
  f->first_page = malloc((uint64_t)f->h.nruns * 8 + 1);
  f->packed = malloc(f->h.packed_len + 1);
  if (!f->regions || !f->runs || !f->hashes || !f->first_page || !f->packed) return -ENOMEM;
  err = amber_read_at(f->fd, f->regions, (uint64_t)f->h.nregions * sizeof *f->regions, f->h.regions_off);
  if (!err) err = amber_read_at(f->fd, f->runs, (uint64_t)f->h.nruns * sizeof *f->runs, f->h.runs_off);
  if (!err) err = amber_read_at(f->fd, f->hashes, f->h.npages * 8, f->h.hashes_off);
  if (!err) err = amber_read_at(f->fd, f->packed, f->h.packed_len, f->h.packed_off);
  uint64_t page = 0;
  for (int32_t i = 0; i < f->h.nruns && !err; i++) f->first_page[i] = page, page += f->runs[i].npages;
  if (!err && page != f->h.npages) err = -EPROTO;
  for (int32_t i = 0; i < f->h.nregions && !err; i++) {
    const struct amber_region_rec *r = &f->regions[i];
    if (amber_image_region_problem(r, &f->h)) err = -EPROTO;
    for (uint32_t k = 0; k < r->nruns && !err; k++)
      if (amber_image_run_problem(&f->runs[r->first_run + k], r, f->size)) err = -EPROTO;
  }
  return err;
}

/* The run of f that holds the page at addr, by bisection (runs are in address order where the
 * regions are; where not, a page is just not found: not shared); -1 if none. */
static int32_t run_at(const struct proc_file *f, uint64_t addr) {
  int32_t lo = 0, hi = f->h.nruns - 1;
  while (lo <= hi) {
    int32_t mid = lo + (hi - lo) / 2;
    const struct amber_run_rec *r = &f->runs[mid];
    if (addr < r->addr) hi = mid - 1;
    else if (addr >= r->addr + r->npages * AMBER_PAGE) lo = mid + 1;
    else return mid;
  }
  return -1;
}

/* Where the page at addr with this hash is stored in the image, seen from `from`'s file: in that
 * file (vpid `from`), or in the file it refers to in turn; 0 if not there (or not in this
 * image: a parent image's pages are left as the agent referred to them). */
static int stored_at(const struct proc_file *from, uint64_t addr, uint64_t hash, int32_t *vpid,
                     uint64_t *off) {
  int32_t i = run_at(from, addr);
  if (i < 0) return 0;
  const struct amber_run_rec *run = &from->runs[i];
  uint64_t index = (addr - run->addr) / AMBER_PAGE;
  if (run->depth || from->hashes[from->first_page[i] + index] != hash) return 0;
  *vpid = run->vpid && run->vpid != from->h.vpid ? run->vpid : from->h.vpid;
  *off = run->data_off + index * AMBER_PAGE;
  return 1;
}

/* The files referred to, kept open while the pass runs (a child's parent, its parent's...). */
struct open_files {
  const char *dir;
  int32_t vpid[8];
  int fd[8];
  int n;
};

static int fd_of(struct open_files *o, int32_t vpid) {
  for (int i = 0; i < o->n; i++)
    if (o->vpid[i] == vpid) return o->fd[i];
  if (o->n == 8) return -1;
  char path[4200];
  snprintf(path, sizeof path, AMBER_PROC_FILE_FMT, o->dir, vpid);
  int fd = amber_open_regular(path, O_RDONLY);
  if (fd < 0) return -1;
  o->vpid[o->n] = vpid, o->fd[o->n++] = fd;
  return fd;
}

/* The runs being built with their pages' hashes, where each of this file's own pages was (to
 * copy it from), and the pages packed: their records, then their bytes. */
struct new_runs {
  struct amber_run_rec *runs;
  int32_t n, region_first; /* runs from region_first on are the current region's */
  uint64_t cap;
  uint64_t *own_from, nown, own_cap;
  uint64_t *hashes, nhashes, hashes_cap;
  struct amber_packed_rec *packed;
  uint64_t npacked, packed_cap;
  uint8_t *bytes;
  uint64_t nbytes, bytes_cap;
};

static int grow(void **p, uint64_t *cap, uint64_t n, uint64_t size) {
  if (n < *cap) return 0;
  uint64_t cap2 = *cap ? *cap * 2 : 256;
  void *grown = realloc(*p, cap2 * size);
  if (!grown) return -ENOMEM;
  *p = grown, *cap = cap2;
  return 0;
}

/* Appends a page, stored at off in the file of vpid (0: this one) `depth` images up. */
static int add_page(struct new_runs *o, uint64_t addr, uint64_t hash, uint32_t depth, int32_t vpid,
                    uint64_t off) {
  if (grow((void **)&o->hashes, &o->hashes_cap, o->nhashes, 8)) return -ENOMEM;
  o->hashes[o->nhashes++] = hash;
  struct amber_run_rec *last = o->n > o->region_first ? &o->runs[o->n - 1] : NULL;
  if (last && last->addr + last->npages * AMBER_PAGE == addr && last->depth == depth &&
      last->vpid == vpid && last->data_off + last->npages * AMBER_PAGE == off) {
    last->npages++;
    return 0;
  }
  if (grow((void **)&o->runs, &o->cap, (uint64_t)o->n, sizeof *o->runs)) return -ENOMEM;
  o->runs[o->n++] = (struct amber_run_rec){addr, 1, off, depth, vpid};
  return 0;
}

static int add_own_page(struct new_runs *o, uint64_t addr, uint64_t hash, uint64_t from) {
  if (grow((void **)&o->own_from, &o->own_cap, o->nown, 8)) return -ENOMEM;
  o->own_from[o->nown] = from;
  return add_page(o, addr, hash, 0, 0, AMBER_PAGE + o->nown++ * AMBER_PAGE);
}

/* Packs the page (its bytes in `page`) if it holds mostly zeros: 1 if it did, 0 if not. */
static int add_packed_page(struct new_runs *o, uint64_t addr, uint64_t hash,
                           const uint8_t *page) {
  if (o->nbytes + AMBER_PACKED_MAX > o->bytes_cap) {
    uint64_t cap = o->bytes_cap ? o->bytes_cap * 2 : 16 * AMBER_PACKED_MAX;
    uint8_t *grown = realloc(o->bytes, cap);
    if (!grown) return -ENOMEM;
    o->bytes = grown, o->bytes_cap = cap;
  }
  int len = amber_pack_page(o->bytes + o->nbytes, page);
  if (len < 0) return 0;
  if (grow((void **)&o->packed, &o->packed_cap, o->npacked, sizeof *o->packed)) return -ENOMEM;
  o->packed[o->npacked++] =
      (struct amber_packed_rec){addr, hash, (uint32_t)o->nbytes, (uint32_t)len};
  o->nbytes += (uint64_t)len;
  return 1;
}

static int by_address(const void *a, const void *b) {
  const struct amber_packed_rec *x = a, *y = b;
  return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* The packed section as the file is to hold it, in `*out` (malloc'd): the pages packed now, or
 * those it held already. Its length, or -errno. */
static int64_t packed_section(const struct proc_file *c, struct new_runs *o, uint8_t **out) {
  if (!o->npacked) {
    *out = NULL;
    return (int64_t)c->h.packed_len; /* copied from c->packed as it is */
  }
  uint64_t records = o->npacked * sizeof *o->packed;
  qsort(o->packed, o->npacked, sizeof *o->packed, by_address); /* the restorer walks them so */
  uint8_t *p = malloc(records + o->nbytes + 1);
  if (!p) return -ENOMEM;
  for (uint64_t i = 0; i < o->npacked; i++) o->packed[i].off += (uint32_t)records;
  memcpy(p, o->packed, records);
  memcpy(p + records, o->bytes, o->nbytes);
  *out = p;
  return (int64_t)(records + o->nbytes);
}

/* Copies len bytes of one file to another. */
static int copy_range(int from, uint64_t at, int to, uint64_t into, uint64_t len, char *buf) {
  while (len) {
    uint64_t n = len < (1 << 20) ? len : (1 << 20);
    int err = amber_read_at(from, buf, n, at);
    if (!err) err = write_at(to, buf, n, into);
    if (err) return err;
    at += n, into += n, len -= n;
  }
  return 0;
}

/* The child's file again, with the runs given: its own pages packed from data_off on, the rest
 * of its sections as they were (the page hashes too, in the same order), under a temporary name
 * renamed over it. */
static int rewrite(const char *path, struct proc_file *c, struct new_runs *o,
                   const int32_t *region_first, char *buf) {
  char tmp[4300];
  snprintf(tmp, sizeof tmp, "%s.share-tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return -errno;
  struct stat st; /* the same owner as the agent's file (it may run as another user) */
  if (!fstat(c->fd, &st)) (void)!fchown(fd, st.st_uid, st.st_gid);
  struct amber_proc_header h = c->h;
  uint64_t data_end = AMBER_PAGE + o->nown * AMBER_PAGE, at;
  int err = 0;
  /* The pages: each of this file's, from where it was, as many together as were together. */
  for (uint64_t j = 0, n; j < o->nown && !err; j += n) {
    for (n = 1; j + n < o->nown && o->own_from[j + n] == o->own_from[j] + n * AMBER_PAGE; n++) {}
    err = copy_range(c->fd, o->own_from[j], fd, AMBER_PAGE + j * AMBER_PAGE, n * AMBER_PAGE, buf);
  }
  struct amber_region_rec *regions = c->regions;
  for (int32_t i = 0; i < c->h.nregions; i++) {
    regions[i].nruns = (uint32_t)(region_first[i + 1] - region_first[i]);
    regions[i].first_run = (uint32_t)region_first[i];
  }
  h.data_off = AMBER_PAGE;
  h.data_len = data_end - AMBER_PAGE;
  at = data_end;
  uint64_t threads_len = (uint64_t)h.nthreads * sizeof(struct amber_thread_rec);
  uint64_t fds_len = (uint64_t)h.nfds * sizeof(struct amber_fd_rec);
  uint64_t locks_len = (uint64_t)h.nlocks * sizeof(struct amber_lock_rec);
  if (!err) err = copy_range(c->fd, c->h.threads_off, fd, at, threads_len, buf);
  h.threads_off = at, at += threads_len;
  if (!err) err = write_at(fd, regions, (uint64_t)h.nregions * sizeof *regions, at);
  h.regions_off = at, at += (uint64_t)h.nregions * sizeof *regions;
  if (!err) err = write_at(fd, o->runs, (uint64_t)o->n * sizeof *o->runs, at);
  h.runs_off = at, at += (uint64_t)o->n * sizeof *o->runs;
  h.nruns = o->n;
  if (!err) err = copy_range(c->fd, c->h.fds_off, fd, at, fds_len, buf);
  h.fds_off = at, at += fds_len;
  h.npages = o->nhashes;
  if (!err) err = write_at(fd, o->hashes, h.npages * 8, at);
  h.hashes_off = at, at += h.npages * 8;
  if (!err) err = copy_range(c->fd, c->h.locks_off, fd, at, locks_len, buf);
  h.locks_off = at, at += locks_len;
  uint8_t *packed = NULL;
  int64_t packed_len = err ? 0 : packed_section(c, o, &packed);
  if (packed_len < 0) err = (int)packed_len;
  if (!err && packed_len) err = write_at(fd, packed ? packed : c->packed, (uint64_t)packed_len, at);
  free(packed);
  if (o->npacked) h.npacked = (int32_t)o->npacked;
  h.packed_off = at, h.packed_len = packed_len > 0 ? (uint64_t)packed_len : 0;
  at += h.packed_len;
  h.file_size = at;
  if (!err) err = write_at(fd, &h, sizeof h, 0); /* last, as the agent does */
  if (!err && ftruncate(fd, (off_t)at)) err = -errno;
  if (close(fd) && !err) err = -errno;
  if (!err && rename(tmp, path)) err = -errno;
  if (err) unlink(tmp);
  return err;
}

/* Packing reads every page the file holds: a file of more is left as it is (its pages of zeros
 * are a small part of it). */
#define PACK_DATA_MAX (32ULL << 20)

/* The file's pages read a piece at a time, in the order they are met (that of the file). */
struct piece {
  char *buf; /* 1 MiB */
  uint64_t off, len;
};

static const char *page_at(struct piece *p, const struct proc_file *f, uint64_t off) {
  if (off < p->off || off + AMBER_PAGE > p->off + p->len) {
    p->off = off;
    p->len = f->size - off < (1 << 20) ? f->size - off : (1 << 20);
    if (p->len < AMBER_PAGE || amber_read_at(f->fd, p->buf, p->len, off)) return p->len = 0, NULL;
  }
  return p->buf + (off - p->off);
}

/* Rewrites process `vpid`'s file in dir so that its private anonymous pages that are the same as
 * those process `from` saved (its parent's, or a common ancestor's stand-in; 0: none) refer to
 * them, and (with `pack`) its pages that hold mostly zeros are packed. Returns how many pages now refer to
 * another file, or -errno (-EPROTO: a file is not a complete process file). The file is left as
 * it was on any failure, and on a full disk (0: nothing shared). */
API int32_t amber_ctl_share_pages(const char *dir, int32_t vpid, int32_t from, int32_t pack) {
  struct proc_file c = {.fd = -1}, f = {.fd = -1};
  struct open_files files = {dir, {0}, {0}, 0};
  struct new_runs o = {0};
  int32_t *region_first = NULL;
  int64_t shared = 0, packed_pages = 0;
  char *buf = malloc(1 << 20), *theirs = malloc(AMBER_PAGE);
  struct piece piece = {buf, 0, 0};
  int err = buf && theirs ? 0 : -ENOMEM;
  if (!err) err = load(dir, vpid, &c);
  if (!err && from) err = load(dir, from, &f);
  pack = pack && !err && !c.h.npacked && c.h.data_len <= PACK_DATA_MAX;
  if (!err && !(region_first = malloc(((uint64_t)c.h.nregions + 1) * sizeof *region_first)))
    err = -ENOMEM;
  for (int32_t i = 0; i < c.h.nregions && !err; i++) {
    const struct amber_region_rec *r = &c.regions[i];
    region_first[i] = o.region_first = o.n;
    for (uint32_t k = 0; k < r->nruns && !err; k++) {
      int32_t ri = (int32_t)(r->first_run + k);
      const struct amber_run_rec *run = &c.runs[ri];
      for (uint64_t p = 0; p < run->npages && !err; p++) {
        uint64_t addr = run->addr + p * AMBER_PAGE, hash = c.hashes[c.first_page[ri] + p];
        uint64_t here = run->data_off + p * AMBER_PAGE, off = 0;
        int32_t at_vpid = 0;
        int own = run->depth == 0 && (!run->vpid || run->vpid == vpid);
        int refer = own && r->kind == AMBER_REGION_ANON && stored_at(&f, addr, hash, &at_vpid, &off);
        int packable =
            own && pack && (r->kind == AMBER_REGION_ANON || r->kind == AMBER_REGION_FILE);
        const char *mine = refer || packable ? page_at(&piece, &c, here) : NULL;
        if (refer) { /* the same bytes, not just the same hash */
          int other = fd_of(&files, at_vpid);
          refer = other >= 0 && mine && !amber_read_at(other, theirs, AMBER_PAGE, off) &&
                  !memcmp(mine, theirs, AMBER_PAGE);
        }
        int packed =
            !refer && packable && mine ? add_packed_page(&o, addr, hash, (const uint8_t *)mine) : 0;
        if (packed < 0) err = packed;
        else if (packed) packed_pages++;
        else if (refer) err = add_page(&o, addr, hash, 0, at_vpid, off), shared++;
        else if (own) err = add_own_page(&o, addr, hash, here);
        else err = add_page(&o, addr, hash, run->depth, run->vpid, here); /* a parent image's */
      }
    }
  }
  if (!err) region_first[c.h.nregions] = o.n;
  /* A rewrite copies the file's pages: packing alone is worth one if it saves a 32nd of them. */
  uint64_t saved = (uint64_t)packed_pages * AMBER_PAGE - o.nbytes - o.npacked * sizeof *o.packed;
  if (!err && (shared || (packed_pages && saved * 32 >= c.h.data_len))) {
    char path[4200];
    snprintf(path, sizeof path, AMBER_PROC_FILE_FMT, dir, vpid);
    err = rewrite(path, &c, &o, region_first, buf);
    /* Both are savings: on a full disk the file stays as the agent wrote it, whole. */
    if (err == -ENOSPC || err == -EDQUOT) err = 0, shared = 0;
  }
  for (int i = 0; i < files.n; i++) close(files.fd[i]);
  release(&c);
  release(&f);
  free(o.runs);
  free(o.own_from);
  free(o.hashes);
  free(o.packed);
  free(o.bytes);
  free(region_first);
  free(buf);
  free(theirs);
  return err ? err : (int32_t)shared;
}
