/* Pre-copy (common/precopy.h): a process's pages copied into the image before it freezes, from
 * outside, while it runs, with write protection armed first so that the agent finds, frozen,
 * which of them were written since.
 *
 * Registration needs a userfaultfd of the process's own memory: its agent's, which it opens as
 * it starts and names in its row (agent_track.c), taken here with pidfd_getfd; registering on
 * it from another process works on the memory it was made for. Arming (PAGEMAP_SCAN with
 * PM_SCAN_WP_MATCHING on /proc/<pid>/pagemap) walks every page table, some 30 ms per GiB of
 * 4 KiB pages, but the program runs on meanwhile (bench/progs/precopy_cost.c), 64 MiB at a time
 * while the 64 MiB before are written. Only then are that span's pages read (process_vm_readv),
 * so a write after its page was read, or while it was read, is seen. The regions registered stay registered: they are what the agent tracks for the next
 * incremental image. The pages go to the file straight to the disk, by a thread of their own,
 * while the next are read (direct_writer.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../common/dirty_track.h"
#include "../common/hash.h"
#include "../common/image.h"
#include "../common/precopy.h"
#include "../common/table.h"
#include "../common/vm_flags.h"
#include "control.h"
#include "ctl_precopy.h"
#include "direct_writer.h"

#define API __attribute__((visibility("default")))
#define BATCH PRECOPY_BATCH
_Static_assert(BATCH * AMBER_PAGE == DW_BYTES, "a batch fills one buffer of the writer");

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

/* The pre-copy holds the application's control block: no snapshot begins meanwhile, and none
 * is under way (its agents arm and scan the same memory). 0, or -EBUSY. */
API int32_t amber_ctl_precopy_claim(void *table) {
  struct amber_table *t = table;
  struct amber_ctl *c = &t->ctl;
  uint32_t phase = __atomic_load_n(&c->phase, __ATOMIC_ACQUIRE);
  if (phase == AMBER_PHASE_FREEZE || phase == AMBER_PHASE_WRITE || phase == AMBER_PHASE_PRECOPY) {
    if (c->coordinator > 0 && (kill(c->coordinator, 0) == 0 || errno == EPERM)) return -EBUSY;
  }
  if (amber_cow_writers_busy(t)) return -EBUSY;
  if (!__atomic_compare_exchange_n(&c->phase, &phase, AMBER_PHASE_PRECOPY, 0, __ATOMIC_ACQ_REL,
                                   __ATOMIC_ACQUIRE))
    return -EBUSY;
  c->coordinator = getpid();
  return 0;
}

/* Gives the claim back, unless a snapshot took over from it. */
API int32_t amber_ctl_precopy_release(void *table) {
  struct amber_ctl *c = &((struct amber_table *)table)->ctl;
  uint32_t phase = AMBER_PHASE_PRECOPY;
  __atomic_compare_exchange_n(&c->phase, &phase, AMBER_PHASE_IDLE, 0, __ATOMIC_ACQ_REL,
                              __ATOMIC_ACQUIRE);
  return 0;
}

/* PROCMAP_QUERY (Linux 6.11), an ioctl on /proc/<pid>/maps: the mapping that holds an address. */
struct procmap_query {
  uint64_t size, query_flags, query_addr, vma_start, vma_end, vma_flags, vma_page_size;
  uint64_t vma_offset, inode;
  uint32_t dev_major, dev_minor, vma_name_size, build_id_size;
  uint64_t vma_name_addr, build_id_addr;
};
#define PROCMAP_QUERY 0xC0686611UL /* _IOWR('f', 17, struct procmap_query) */

static int grow(void **p, size_t *cap, size_t elem, size_t first) {
  size_t n = *cap ? *cap * 2 : first;
  void *g = realloc(*p, n * elem);
  if (!g) return -ENOMEM;
  *p = g, *cap = n;
  return 0;
}

static int pwrite_all(int fd, const void *buf, size_t n, off_t off) {
  for (const char *p = buf; n;) {
    ssize_t w = pwrite(fd, p, n, off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return w < 0 ? -errno : -EIO;
    p += w, n -= (size_t)w, off += w;
  }
  return 0;
}

/* One mapping of /proc/<pid>/smaps: its line, then its VmFlags. */
static int read_smaps(struct precopy *d) {
  char path[64], line[4352];
  snprintf(path, sizeof path, "/proc/%d/smaps", d->pid);
  FILE *f = fopen(path, "re");
  if (!f) return -errno;
  int err = 0;
  while (!err && fgets(line, sizeof line, f)) {
    unsigned long long start, end, ino;
    char perms[8], name[4096] = "";
    if (sscanf(line, "%llx-%llx %7s %*x %*x:%*x %llu %4095[^\n]", &start, &end, perms, &ino,
               name) >= 4) {
      if (d->nranges == d->ranges_cap &&
          (err = grow((void **)&d->ranges, &d->ranges_cap, sizeof *d->ranges, 256)))
        break;
      /* Private memory the agent tracks: anonymous, or a file's (not a file that is gone, nor
       * an image a lazy restore mapped: the agent saves those whole, frozen). */
      const char *base = strrchr(name, '/');
      base = base ? base + 1 : name;
      int kernel = name[0] == '[' && strcmp(name, "[heap]") && strncmp(name, "[stack", 6) &&
                   strncmp(name, "[anon", 5);
      int whole = ino != 0 && (strstr(name, " (deleted)") ||
                               !strncmp(base, AMBER_PROC_FILE_PREFIX,
                                        sizeof AMBER_PROC_FILE_PREFIX - 1));
      int wanted = perms[3] == 'p' && !kernel && !whole;
      d->ranges[d->nranges++] = (struct amber_precopy_range){
          start, end, 0, (wanted ? AMBER_PRECOPY_ARMED : 0) | (ino ? AMBER_PRECOPY_FILE : 0)};
    } else if (!strncmp(line, "VmFlags:", 8) && d->nranges) {
      d->ranges[d->nranges - 1].vm_flags = amber_vm_flags_parse(line + 8);
    }
  }
  fclose(f);
  return err;
}

/* Registers a range on the agent's userfaultfd; 0, or -errno (the range is then not pre-copied:
 * the agent saves it at the freeze). */
/* 0 if r is one mapping now, as smaps said (the program maps and unmaps meanwhile); -EAGAIN if
 * not; -errno (ENOTTY: no PROCMAP_QUERY). */
static int one_mapping(struct precopy *d, const struct amber_precopy_range *r) {
  struct procmap_query q = {.size = sizeof q, .query_addr = r->start};
  if (ioctl(d->maps, PROCMAP_QUERY, &q)) return -errno;
  return q.vma_start == r->start && q.vma_end == r->end ? 0 : -EAGAIN;
}

static int register_range(struct precopy *d, const struct amber_precopy_range *r) {
  /* Registering splits a mapping at the range's ends: only a range that is one mapping, or a
   * program's mremap over the mapping it made would fail. */
  int err = one_mapping(d, r);
  if (err) return err;
  struct amber_uffdio_register reg = {r->start, r->end - r->start, AMBER_UFFDIO_REGISTER_MODE_WP, 0};
  if (ioctl(d->uffd, AMBER_UFFDIO_REGISTER, &reg)) return -errno; /* EBUSY: the program's own */
  return 0;
}

/* Write-protects the pages of [start, end) of a registered range that hold data; 0 or -errno. */
static int protect(struct precopy *d, uint64_t start, uint64_t end) {
  /* Bits a dropped registration left (mremap) are cleared first: a page written while its
   * mapping was not registered keeps its bit and may be writable, so the scan below would take
   * it for protected, and a write after it would go unseen. */
  struct amber_uffdio_writeprotect clear = {start, end - start, 0};
  if (ioctl(d->uffd, AMBER_UFFDIO_WRITEPROTECT, &clear)) return -errno;
  struct pm_page_region scratch[64];
  for (uint64_t at = start; at < end;) {
    struct pm_scan_arg a = pm_written_scan(at, end, scratch, 64);
    if (ioctl(d->pagemap, PAGEMAP_SCAN, &a) < 0) return -errno;
    if (a.walk_end <= at) return -EIO;
    at = a.walk_end;
  }
  return 0;
}

int precopy_add(struct precopy *d, uint64_t addr, uint64_t hash, uint32_t depth, int32_t vpid,
                uint64_t off) {
  struct amber_run_rec *last = d->nruns ? &d->runs[d->nruns - 1] : NULL;
  if (!last || last->addr + last->npages * AMBER_PAGE != addr || last->depth != depth ||
      last->vpid != vpid || last->data_off + last->npages * AMBER_PAGE != off) {
    if (d->nruns == d->runs_cap && grow((void **)&d->runs, &d->runs_cap, sizeof *d->runs, 1024))
      return -ENOMEM;
    d->runs[d->nruns++] = (struct amber_run_rec){addr, 0, off, depth, vpid};
    last = &d->runs[d->nruns - 1];
  }
  last->npages++;
  if (d->npages == d->hashes_cap && grow((void **)&d->hashes, &d->hashes_cap, 8, 65536))
    return -ENOMEM;
  d->hashes[d->npages++] = hash;
  return 0;
}

static int add_page(struct precopy *d, uint64_t addr, uint64_t hash, uint64_t off) {
  return precopy_add(d, addr, hash, 0, 0, off);
}

/* A cache line's words or'ed together, then tested: half the time of a test per word (40 ms per
 * GiB here, 19 after), which counts where most pages are zeros and each is read to know it. */
static int zero_page(const uint8_t *p) {
  const uint64_t *w = (const uint64_t *)p;
  for (int i = 0; i < AMBER_PAGE / 8; i += 8)
    if (w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] | w[i + 6] | w[i + 7])
      return 0;
  return 1;
}

static uint64_t page_hash(const uint8_t *p) {
  struct amber_hash h;
  amber_hash_init(&h);
  amber_hash_update(&h, p, AMBER_PAGE);
  return amber_hash_final(&h);
}

/* For tests (tests/precopy_test.ts): the pages at AMBER_TEST_PRECOPY_UNREADABLE (an address,
 * hex) cannot be read, as if the program had just unmapped them. */
static int test_unreadable(uint64_t addr, size_t count) {
  const char *v = getenv("AMBER_TEST_PRECOPY_UNREADABLE");
  uint64_t at = v ? strtoull(v, NULL, 16) : 0;
  return at && addr <= at && at < addr + count * AMBER_PAGE;
}

/* Reads `count` pages at addr, and queues those that are not all zeros (of anonymous memory,
 * which a restore maps as zeros) for writing, with their hashes. -EFAULT: not all could be
 * read. The bytes hashed are those written: the buffer is not reused before its write. */
static int copy_pages(struct precopy *d, uint64_t addr, size_t count, int file) {
  uint8_t *buf = dw_buffer(d->out);
  if (!buf) return d->write_err = dw_finish(d->out);
  if (test_unreadable(addr, count)) return -EFAULT;
  struct iovec local = {buf, count * AMBER_PAGE}, remote = {(void *)addr, count * AMBER_PAGE};
  ssize_t got = process_vm_readv(d->pid, &local, 1, &remote, 1, 0);
  if (got != (ssize_t)(count * AMBER_PAGE)) /* memory it made unreadable: through /proc */
    got = pread(d->mem, buf, count * AMBER_PAGE, (off_t)addr);
  if (got != (ssize_t)(count * AMBER_PAGE)) return -EFAULT;
  struct dw_piece pieces[BATCH / 2 + 1];
  int n = 0;
  uint64_t at = d->data_end;
  for (size_t i = 0; i < count; i++) {
    const uint8_t *page = buf + i * AMBER_PAGE;
    if (!file && zero_page(page)) continue;
    int err = add_page(d, addr + i * AMBER_PAGE, page_hash(page), d->data_end);
    if (err) return err;
    d->data_end += AMBER_PAGE;
    if (n && pieces[n - 1].from + pieces[n - 1].len == i * AMBER_PAGE)
      pieces[n - 1].len += AMBER_PAGE;
    else
      pieces[n++] = (struct dw_piece){(uint32_t)(i * AMBER_PAGE), AMBER_PAGE};
  }
  int err = dw_write(d->out, pieces, n, at);
  return err ? d->write_err = err : 0;
}

/* The pages of [start, end) of a range that hold data worth saving, as the agent judges them
 * (agent_pages.c): a swapped page, an anonymous one, a file's page the program wrote. */
static int copy_span(struct precopy *d, int file, uint64_t start, uint64_t end) {
  struct pm_page_region vec[512];
  for (uint64_t at = start; at < end;) {
    struct pm_scan_arg a = pm_data_scan(at, end, vec, 512);
    long n = ioctl(d->pagemap, PAGEMAP_SCAN, &a);
    if (n < 0) return -errno;
    for (long i = 0; i < n; i++) {
      uint64_t c = vec[i].categories;
      if (!(c & PAGE_IS_SWAPPED) && ((c & PAGE_IS_PFNZERO) || (file && (c & PAGE_IS_FILE))))
        continue;
      if (d->incr) { /* only what changed since the parent image (ctl_precopy_incr.c) */
        int err = precopy_incr_span(d, vec[i].start, vec[i].end, file);
        if (err) return err;
        continue;
      }
      for (uint64_t p = vec[i].start; p < vec[i].end;) {
        size_t count = (vec[i].end - p) / AMBER_PAGE;
        if (count > BATCH) count = BATCH;
        int err = copy_pages(d, p, count, file);
        if (err) return err;
        p += count * AMBER_PAGE;
      }
    }
    if (a.walk_end <= at) return -EIO;
    at = a.walk_end;
  }
  return 0;
}

/* A registered range, a span at a time: each write-protected just before its pages are read
 * (a page is read only once a write to it would be seen), so that the walk that protects it
 * runs while the writer writes the span before, instead of before anything is written. */
#define SPAN (64ULL << 20)
static int copy_range(struct precopy *d, const struct amber_precopy_range *r) {
  int file = (r->flags & AMBER_PRECOPY_FILE) != 0;
  for (uint64_t at = r->start; at < r->end; at = at + SPAN < r->end ? at + SPAN : r->end) {
    uint64_t end = at + SPAN < r->end ? at + SPAN : r->end;
    int err = protect(d, at, end);
    if (!err) err = copy_span(d, file, at, end);
    if (err) return err;
  }
  return 0;
}

static int write_index(struct precopy *d, const char *path, int32_t vpid, int32_t track_fd) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return -errno;
  struct amber_precopy_header h = {AMBER_PRECOPY_MAGIC, vpid, track_fd, (uint32_t)d->nranges,
                                   (uint32_t)d->nruns, d->npages, d->data_end};
  off_t off = 0;
  int err = pwrite_all(fd, &h, sizeof h, off);
  off += sizeof h;
  if (!err) err = pwrite_all(fd, d->ranges, d->nranges * sizeof *d->ranges, off);
  off += (off_t)(d->nranges * sizeof *d->ranges);
  if (!err) err = pwrite_all(fd, d->runs, d->nruns * sizeof *d->runs, off);
  off += (off_t)(d->nruns * sizeof *d->runs);
  if (!err) err = pwrite_all(fd, d->hashes, d->npages * 8, off);
  close(fd);
  return err;
}

/* Is fd (of this process) a userfaultfd? */
static int is_userfaultfd(int fd) {
  char link[64], target[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, target, sizeof target - 1);
  target[n > 0 ? n : 0] = 0;
  return !strcmp(target, "anon_inode:[userfaultfd]");
}

int precopy_grow(void **p, size_t *cap, size_t elem, size_t first) {
  return grow(p, cap, elem, first);
}
int precopy_pwrite_all(int fd, const void *buf, size_t n, off_t off) {
  return pwrite_all(fd, buf, n, off);
}
/* Protected a span at a time as it is copied (copy_range). */
int precopy_arm(struct precopy *d, struct amber_precopy_range *r) { return register_range(d, r); }
int precopy_copy_range(struct precopy *d, const struct amber_precopy_range *r) {
  return copy_range(d, r);
}
int precopy_one_mapping(struct precopy *d, const struct amber_precopy_range *r) {
  return one_mapping(d, r) == 0;
}
int precopy_zero_page(const uint8_t *p) { return zero_page(p); }

/* Pre-copies the process `vpid` of the application into DIR (common/precopy.h), with a parent
 * image only what changed since it (ctl_precopy_incr.c). 0 when done; 1 when it cannot be (no
 * agent's userfaultfd yet, a kernel without PAGEMAP_SCAN, a process gone): its agent then
 * writes everything at the freeze, as without pre-copy; or -errno. */
int32_t precopy_run(void *table, int32_t vpid, const char *dir, const char *parent_dir,
                    int32_t sync) {
  struct amber_table *t = table;
  struct amber_row *row = amber_row_by_vid(t, AMBER_KIND_PID, vpid);
  if (!row || !(row->flags & AMBER_PID_PROCESS)) return 1;
  int32_t sid = row->sid, track_fd = row->pad - 1;
  if (track_fd < 0 || sid <= 1 || !amber_app_member(t, sid)) return 1;
  struct precopy d = {.uffd = -1, .pagemap = -1, .mem = -1, .maps = -1, .pid = sid,
                      .data_end = AMBER_PAGE, .plain_out = -1};
  int pidfd = (int)syscall(SYS_pidfd_open, sid, 0);
  if (pidfd < 0) return 1;
  d.uffd = (int)syscall(SYS_pidfd_getfd, pidfd, track_fd, 0);
  close(pidfd);
  if (d.uffd < 0 || !is_userfaultfd(d.uffd)) {
    if (d.uffd >= 0) close(d.uffd);
    return 1;
  }
  char path[AMBER_CTL_PATH + 64];
  snprintf(path, sizeof path, "/proc/%d/pagemap", sid);
  d.pagemap = open(path, O_RDONLY | O_CLOEXEC);
  snprintf(path, sizeof path, "/proc/%d/mem", sid);
  d.mem = open(path, O_RDONLY | O_CLOEXEC);
  snprintf(path, sizeof path, "/proc/%d/maps", sid);
  d.maps = open(path, O_RDONLY | O_CLOEXEC);
  int err = d.pagemap < 0 || d.mem < 0 || d.maps < 0 ? 1 : 0;
  if (!err) {
    snprintf(path, sizeof path, AMBER_PRECOPY_DATA_FMT, dir, vpid);
    err = dw_open(&d.out, path);
  }
  if (!err) err = read_smaps(&d) ? 1 : 0;
  if (!err) err = precopy_incr_begin(&d, t, vpid, parent_dir);
  /* An incremental one reads into a buffer of its own, and writes what it keeps itself. */
  if (!err && d.incr && !(d.buf = malloc(BATCH * AMBER_PAGE))) err = -ENOMEM;
  if (!err && d.incr) {
    snprintf(path, sizeof path, AMBER_PRECOPY_DATA_FMT, dir, vpid);
    d.plain_out = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (d.plain_out < 0) err = -errno;
  }
  /* Every range registered first, then protected and copied a span at a time. */
  for (size_t i = 0; i < d.nranges && !err; i++) {
    struct amber_precopy_range *r = &d.ranges[i];
    if (!(r->flags & AMBER_PRECOPY_ARMED)) continue;
    long e = d.incr ? precopy_incr_arm(&d, r) : register_range(&d, r);
    if (e == -ENOTTY) err = 1; /* no PROCMAP_QUERY */
    if (e) r->flags &= ~AMBER_PRECOPY_ARMED;
  }
  for (size_t i = 0; i < d.nranges && !err; i++) {
    struct amber_precopy_range *r = &d.ranges[i];
    if (!(r->flags & AMBER_PRECOPY_ARMED)) continue;
    /* A range that cannot be copied whole (the program unmapped part of it meanwhile) is left
     * out as if never begun: the runs and hashes it added, and the pages it added to the run
     * before it (which it extends where address and offset follow on), are taken back. */
    size_t runs = d.nruns, pages = d.npages;
    uint64_t end = d.data_end, last_run_pages = runs ? d.runs[runs - 1].npages : 0;
    int e = d.incr ? precopy_incr_copy(&d, r) : copy_range(&d, r);
    if (e == -ENOTTY) err = 1; /* no PAGEMAP_SCAN */
    else if (e == -ENOMEM || d.write_err) err = e;
    else if (e) {
      r->flags &= ~AMBER_PRECOPY_ARMED, d.nruns = runs, d.npages = pages, d.data_end = end;
      if (runs) d.runs[runs - 1].npages = last_run_pages;
    }
  }
  if (!err && d.incr) err = precopy_incr_finish(&d);
  if (!err) err = dw_finish(d.out);
  if (!err && sync && fdatasync(dw_fd(d.out))) err = -errno;
  if (!err) {
    snprintf(path, sizeof path, AMBER_PRECOPY_INDEX_FMT, dir, vpid);
    err = write_index(&d, path, vpid, track_fd);
  }
  dw_close(d.out);
  if (err) {
    snprintf(path, sizeof path, AMBER_PRECOPY_DATA_FMT, dir, vpid);
    unlink(path);
    snprintf(path, sizeof path, AMBER_PRECOPY_INDEX_FMT, dir, vpid);
    unlink(path);
  }
  if (d.pagemap >= 0) close(d.pagemap);
  if (d.mem >= 0) close(d.mem);
  if (d.maps >= 0) close(d.maps);
  close(d.uffd);
  free(d.ranges);
  free(d.runs);
  free(d.hashes);
  free(d.buf);
  if (d.plain_out >= 0) close(d.plain_out);
  precopy_incr_free(&d);
  return err;
}

API int32_t amber_ctl_precopy(void *table, int32_t vpid, const char *dir, int32_t sync) {
  return precopy_run(table, vpid, dir, NULL, sync);
}
