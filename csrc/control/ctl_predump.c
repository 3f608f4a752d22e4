/* A pre-dump of a running process, taken from outside while it runs on: the first round of a
 * pre-copy migration. Its pages are read through /proc/<pid>/mem and each is hashed from the
 * copy that is written, so the file's hashes describe its data even if the process changes a
 * page meanwhile. It is not an image to restore: it is the parent of the next, held, snapshot,
 * whose agents refer to every page whose address and hash did not change and save the others,
 * so a page changed during the pre-dump is simply sent again then.
 *
 * Output, as an agent writes into a FIFO (agent_sink.c): a zero page where the header goes,
 * the pages, the runs, the hashes, and the header as a trailer; no threads, regions or
 * descriptors. Beside it, the index: the same header, runs and hashes at their offsets, sparse,
 * which is all the next round's agents read of a parent (agent_pages.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../common/hash.h"
#include "../common/image.h"
#include "../common/pagemap_scan.h"
#include "control.h"

#define API __attribute__((visibility("default")))
#define BATCH 256 /* pages read from the process at once */
#define PM_PRESENT (1ULL << 63)
#define PM_SWAPPED (1ULL << 62)
#define PM_FILE (1ULL << 61)

struct predump {
  int mem, pagemap, out;
  uint64_t data_len;
  struct amber_run_rec *runs;
  size_t nruns, runs_cap;
  uint64_t *hashes;
  size_t npages, hashes_cap;
};

static int write_all(int fd, const void *buf, size_t n) {
  for (const char *p = buf; n;) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return -errno;
    p += w, n -= (size_t)w;
  }
  return 0;
}

static int pwrite_all(int fd, const void *buf, size_t n, off_t off) {
  for (const char *p = buf; n;) {
    ssize_t w = pwrite(fd, p, n, off);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return -errno;
    p += w, n -= (size_t)w, off += w;
  }
  return 0;
}

static int add_page(struct predump *d, uint64_t addr, uint64_t hash, uint64_t data_off) {
  struct amber_run_rec *last = d->nruns ? &d->runs[d->nruns - 1] : NULL;
  if (!last || last->addr + last->npages * AMBER_PAGE != addr ||
      last->data_off + last->npages * AMBER_PAGE != data_off) {
    if (d->nruns == d->runs_cap) {
      d->runs_cap = d->runs_cap ? d->runs_cap * 2 : 1024;
      void *grown = realloc(d->runs, d->runs_cap * sizeof *d->runs);
      if (!grown) return -ENOMEM;
      d->runs = grown;
    }
    d->runs[d->nruns++] = (struct amber_run_rec){addr, 0, data_off, 0, 0};
    last = &d->runs[d->nruns - 1];
  }
  last->npages++;
  if (d->npages == d->hashes_cap) {
    d->hashes_cap = d->hashes_cap ? d->hashes_cap * 2 : 65536;
    void *grown = realloc(d->hashes, d->hashes_cap * 8);
    if (!grown) return -ENOMEM;
    d->hashes = grown;
  }
  d->hashes[d->npages++] = hash;
  return 0;
}

/* Reads `count` pages at addr from the process, hashes them and writes them. A range the
 * process unmapped meanwhile is skipped: the next round sends what is there then. */
static int copy_pages(struct predump *d, uint64_t addr, size_t count, uint8_t *buf) {
  ssize_t got = pread(d->mem, buf, count * AMBER_PAGE, (off_t)addr);
  if (got <= 0) return 0;
  size_t pages = (size_t)got / AMBER_PAGE;
  int err = write_all(d->out, buf, pages * AMBER_PAGE);
  for (size_t i = 0; i < pages && !err; i++) {
    struct amber_hash h;
    amber_hash_init(&h);
    amber_hash_update(&h, buf + i * AMBER_PAGE, AMBER_PAGE);
    err = add_page(d, addr + i * AMBER_PAGE, amber_hash_final(&h),
                   AMBER_PAGE + d->data_len + i * AMBER_PAGE);
  }
  d->data_len += pages * AMBER_PAGE;
  return err;
}

/* Copies the pages [from, to) in batches. */
static int copy_range(struct predump *d, uint64_t from, uint64_t to, uint8_t *buf) {
  for (uint64_t at = from; at < to;) {
    size_t n = (to - at) / AMBER_PAGE < BATCH ? (size_t)((to - at) / AMBER_PAGE) : BATCH;
    int err = copy_pages(d, at, n, buf);
    if (err) return err;
    at += n * AMBER_PAGE;
  }
  return 0;
}

/* The runs of pages that hold private data (common/pagemap_scan.h). 1 if the kernel has no
 * PAGEMAP_SCAN, else 0 or -errno. */
static int scan_region(struct predump *d, uint64_t start, uint64_t end, int file, uint8_t *buf) {
  static __thread struct pm_page_region vec[512]; /* per thread: FFI calls run at once */
  for (uint64_t at = start; at < end;) {
    struct pm_scan_arg a = pm_data_scan(at, end, vec, 512);
    long n = ioctl(d->pagemap, PAGEMAP_SCAN, &a);
    if (n < 0) return errno == ENOTTY || errno == EINVAL ? 1 : 0; /* or gone meanwhile */
    for (long i = 0; i < n; i++) {
      uint64_t c = vec[i].categories;
      int saved = (c & PAGE_IS_SWAPPED) || (!(c & PAGE_IS_PFNZERO) && !(file && (c & PAGE_IS_FILE)));
      int err = saved ? copy_range(d, vec[i].start, vec[i].end, buf) : 0;
      if (err) return err;
    }
    if (a.walk_end <= at) return 0;
    at = a.walk_end;
  }
  return 0;
}

/* One region of /proc/<pid>/maps: its pages that hold private data (every page, `whole`, for a
 * mapping of a file that cannot be mapped again, as the agent does). */
static int dump_region(struct predump *d, uint64_t start, uint64_t end, int file, int whole,
                       uint8_t *buf) {
  static __thread uint64_t entries[BATCH]; /* per thread: FFI calls run at once */
  if (whole) return copy_range(d, start, end, buf);
  int scanned = scan_region(d, start, end, file, buf);
  if (scanned != 1) return scanned;
  for (uint64_t page = start; page < end;) {
    size_t n = (end - page) / AMBER_PAGE < BATCH ? (size_t)((end - page) / AMBER_PAGE) : BATCH;
    if (pread(d->pagemap, entries, n * 8, (off_t)(page / AMBER_PAGE * 8)) != (ssize_t)(n * 8))
      return 0; /* gone meanwhile */
    size_t run = 0;
    uint64_t run_start = page;
    for (size_t i = 0; i <= n; i++) {
      uint64_t e = i < n ? entries[i] : 0;
      int saved = i < n && (whole || (file ? (e & PM_SWAPPED) || ((e & PM_PRESENT) && !(e & PM_FILE))
                                            : (e & (PM_PRESENT | PM_SWAPPED)) != 0));
      if (saved) {
        if (!run) run_start = page + i * AMBER_PAGE;
        run++;
        continue;
      }
      if (run) {
        int err = copy_pages(d, run_start, run, buf);
        if (err) return err;
        run = 0;
      }
    }
    page += n * AMBER_PAGE;
  }
  return 0;
}

static int dump_maps(struct predump *d, FILE *maps, uint8_t *buf) {
  char line[4352];
  while (fgets(line, sizeof line, maps)) {
    unsigned long long start, end, ino;
    char perms[8], name[4096] = "";
    if (sscanf(line, "%llx-%llx %7s %*x %*x:%*x %llu %4095[^\n]", &start, &end, perms, &ino,
               name) < 4)
      continue;
    /* Private, readable memory only: shared memory, the kernel's mappings and what cannot be
     * read go with the held round. */
    int kernel = name[0] == '[' && strcmp(name, "[heap]") && strncmp(name, "[stack", 6) &&
                 strncmp(name, "[anon", 5);
    if (perms[0] != 'r' || perms[3] != 'p' || kernel) continue;
    /* A file that is gone, or an image a lazy restore mapped: its pages are the program's data
     * (agent_memory.c saves them all too). */
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    int whole = ino != 0 && (strstr(name, " (deleted)") || !strncmp(base, AMBER_PROC_FILE_PREFIX, sizeof AMBER_PROC_FILE_PREFIX - 1));
    int err = dump_region(d, start, end, ino != 0 && !whole, whole, buf);
    if (err) return err;
  }
  return 0;
}

API int32_t amber_ctl_predump(int32_t pid, int32_t vpid, const char *out_path,
                              const char *index_path) {
  char path[64];
  struct predump d = {.mem = -1, .pagemap = -1, .out = -1};
  snprintf(path, sizeof path, "/proc/%d/maps", pid);
  FILE *maps = fopen(path, "re");
  snprintf(path, sizeof path, "/proc/%d/mem", pid);
  d.mem = open(path, O_RDONLY | O_CLOEXEC);
  snprintf(path, sizeof path, "/proc/%d/pagemap", pid);
  d.pagemap = open(path, O_RDONLY | O_CLOEXEC);
  d.out = open(out_path, O_WRONLY | O_CLOEXEC);
  uint8_t *buf = malloc(BATCH * AMBER_PAGE);
  int err = !maps || d.mem < 0 || d.pagemap < 0 || d.out < 0 ? -errno : !buf ? -ENOMEM : 0;
  static const uint8_t zeros[AMBER_PAGE];
  if (!err) err = write_all(d.out, zeros, sizeof zeros); /* the header's place */
  if (!err) err = dump_maps(&d, maps, buf);
  struct amber_proc_header h;
  memset(&h, 0, sizeof h);
  h.magic = AMBER_PROC_MAGIC;
  h.version = AMBER_PROC_VERSION;
  h.header_size = sizeof h;
  h.vpid = vpid;
  h.nruns = (int32_t)d.nruns;
  h.npages = d.npages;
  h.data_off = AMBER_PAGE;
  h.data_len = d.data_len;
  h.threads_off = h.regions_off = h.runs_off = AMBER_PAGE + d.data_len;
  h.fds_off = h.hashes_off = h.runs_off + d.nruns * sizeof *d.runs;
  h.file_size = h.hashes_off + d.npages * 8;
  if (!err) err = write_all(d.out, d.runs, d.nruns * sizeof *d.runs);
  if (!err) err = write_all(d.out, d.hashes, d.npages * 8);
  if (!err) err = write_all(d.out, &h, sizeof h); /* the trailer */
  if (!err && index_path) {
    int index = open(index_path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    err = index < 0 ? -errno : 0;
    if (!err) err = pwrite_all(index, d.runs, d.nruns * sizeof *d.runs, (off_t)h.runs_off);
    if (!err) err = pwrite_all(index, d.hashes, d.npages * 8, (off_t)h.hashes_off);
    if (!err) err = pwrite_all(index, &h, sizeof h, 0);
    if (index >= 0) close(index);
    if (err) unlink(index_path);
  }
  if (maps) fclose(maps);
  if (d.mem >= 0) close(d.mem);
  if (d.pagemap >= 0) close(d.pagemap);
  if (d.out >= 0) close(d.out);
  free(buf);
  free(d.runs);
  free(d.hashes);
  return err;
}
