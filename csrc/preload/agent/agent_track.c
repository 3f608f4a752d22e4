/* Dirty-page tracking for incremental images (common/dirty_track.h): which pages of a region
 * were written since the last snapshot, without reading them.
 *
 * After each snapshot the agent keeps its private regions registered, in async write-protect
 * mode, on a userfaultfd of its own (a hidden descriptor, like the tables': table_fd.c) and
 * write-protected. At the next one, while the process is frozen and right before its copy is
 * made (agent_cow.c), one PAGEMAP_SCAN per region reports the pages written since and protects
 * them again: the copy writes those pages and takes the others from the parent image, whose
 * memory was the state at that arming (the header's dirty_epoch says which arming).
 *
 * A region is tracked only when all of this holds, else it is saved by hashing every page, as
 * without tracking: it lies within a region armed last time (so no part of it is newer),
 * every mapping in it is still under async write-protect (mremap drops the registration, and
 * a mapping made anew has none), and the registration is this agent's (registering again
 * fails with EBUSY on the program's own userfaultfd). A page is taken from the parent only if
 * it is present and not written: a page zapped since (MADV_DONTNEED) is absent or the zero
 * page, read as zeros, and a swapped page is read and compared. The agent writes its own
 * memory between the scan and the copy: its library's data is never tracked, and the pages
 * around each thread's saved stack pointer count as written.
 *
 * A fork's child does not inherit the registration, and a restored process has none: either
 * starts afresh (every region armed at its next snapshot, which hashes). Runs in the handler:
 * raw system calls, memory from mmap. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../../common/dirty_track.h"
#include "../../common/precopy.h"
#include "../../common/vm_flags.h"
#include "agent.h"
#include "agent_file.h"
#include "agent_track.h"

int amber_track_fd = -1;

/* The regions armed at the last snapshot, in address order (kept in this library's data). */
#define MAX_ARMED 4096
static struct armed_range {
  uint64_t start, end;
  int file; /* armed as a file's mapping: its clean pages are the file's */
} armed[MAX_ARMED];
static int narmed;
static uint64_t epoch;     /* of the last arming; 0: none */
static int32_t armed_pid;  /* the process that armed */
static int ever_armed;     /* this process (or the one it was forked from) armed before */
static int features_missing; /* the kernel lacks async write-protect: not tried again */
static int turned_off;       /* AMBER_DIRTY_TRACKING=off: every page is hashed */

__attribute__((constructor)) static void tracking_wanted(void) {
  const char *v = getenv("AMBER_DIRTY_TRACKING");
  turned_off = v && !strcmp(v, "off");
}

/* This snapshot's view, in memory mapped after the memory map was read (so not in the image). */
enum { UNTRACKED, TRACKED, TO_ARM };
struct region_track {
  uint8_t state;
  uint64_t first, n; /* its written runs in `written` */
};
static struct region_track *per_region;
static uint64_t per_region_bytes;
static struct pm_page_region *written;
static uint64_t nwritten, written_cap;
static int usable; /* the parent image is the state at the last arming */

static void *map_anon(uint64_t bytes) {
  long addr = amber_sys6(SYS_mmap, 0, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                         -1, 0);
  return addr < 0 && addr > -4096 ? 0 : (void *)addr;
}

void amber_track_release(void) {
  if (per_region) amber_sys2(SYS_munmap, per_region, per_region_bytes);
  if (written) amber_sys2(SYS_munmap, written, written_cap * sizeof *written);
  per_region = 0, written = 0, nwritten = 0, written_cap = 0, usable = 0;
}

/* A fork's child whose parent's helper was writing (agent_defer.h): the memory these name is
 * the helper's to unmap, not this process's. */
void amber_track_forget_buffers(void) {
  per_region = 0, written = 0, nwritten = 0, written_cap = 0, usable = 0;
}

/* After a restore: the memory these name is not there, nor the descriptor (its number may be
 * the program's now). */
void amber_track_forget(void) {
  per_region = 0, written = 0, nwritten = 0, written_cap = 0, usable = 0;
  amber_track_fd = -1, narmed = 0, epoch = 0, armed_pid = 0;
  features_missing = 0; /* this computer's kernel may have them */
  ever_armed = 0;       /* the restorer made every page anew: no bit set */
}

static int is_userfaultfd(int fd) {
  char link[64], target[64];
  amber_fmt(link, sizeof link, "/proc/thread-self/fd/%d", fd);
  long n = amber_sys4(SYS_readlinkat, AT_FDCWD, link, target, sizeof target - 1);
  target[n > 0 ? n : 0] = 0;
  return !strcmp(target, "anon_inode:[userfaultfd]");
}

/* The epoch the bits hold, in the tables (dirty_epoch, which a pre-copy clears: published()).
 * Written as an arming sets it, and as 0 whenever there is none (after a fork or a restore,
 * whose tables may hold another process's); never again otherwise, which could undo a clear. */
static void publish_epoch(void) {
  struct amber_row *row = amber.table ? amber_row_by_vid(amber.table, AMBER_KIND_PID, amber.vpid) : 0;
  if (row)
    __atomic_store_n(&amber.table->dirty_epoch[row - amber.table->rows[AMBER_KIND_PID]],
                     amber_track_fd >= 0 ? epoch : 0, __ATOMIC_RELEASE);
}

/* The descriptor, named in the process's row for a pre-copy (control/ctl_precopy.c). */
static void publish(void) {
  struct amber_row *row = amber.table ? amber_row_by_vid(amber.table, AMBER_KIND_PID, amber.vpid) : 0;
  if (!row) return;
  if (!epoch || amber_track_fd < 0) publish_epoch();
  __atomic_store_n(&row->pad, amber_track_fd + 1, __ATOMIC_RELEASE);
}

/* Do the write-protect bits still hold what was written since the last arming? Not once a
 * pre-copy protected pages again (control/ctl_precopy_incr.c) that this snapshot does not take:
 * it had found them written, and they would now look unwritten. */
static int published(void) {
  struct amber_row *row = amber.table ? amber_row_by_vid(amber.table, AMBER_KIND_PID, amber.vpid) : 0;
  return row && __atomic_load_n(&amber.table->dirty_epoch[row - amber.table->rows[AMBER_KIND_PID]],
                                __ATOMIC_ACQUIRE) == epoch;
}

/* A fork's child holds its parent's descriptor, whose registrations are the parent's memory. */
static void drop_inherited(void) {
  if (amber_track_fd >= 0 && is_userfaultfd(amber_track_fd)) amber_sys1(SYS_close, amber_track_fd);
  amber_track_fd = -1, narmed = 0, epoch = 0;
  publish();
}

static int open_uffd(void) {
  if (amber_track_fd >= 0) return 0;
  if (features_missing || turned_off) return -EOPNOTSUPP;
  long fd = amber_sys1(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | AMBER_UFFD_USER_MODE_ONLY);
  if (fd < 0) fd = amber_sys1(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return (int)fd;
  struct amber_uffdio_api api = {
      AMBER_UFFD_API, AMBER_UFFD_FEATURE_WP_ASYNC | AMBER_UFFD_FEATURE_WP_UNPOPULATED, 0};
  long err = amber_sys3(SYS_ioctl, fd, AMBER_UFFDIO_API, &api);
  if (err) {
    amber_sys1(SYS_close, fd);
    features_missing = 1;
    return (int)err;
  }
  int high = amber_fd_place_high((int)fd);
  if (high < 0) return high;
  amber_track_fd = high;
  armed_pid = amber_sys_getpid();
  publish();
  return 0;
}

void amber_track_early(void) {
  if (!amber.table) return;
  if (armed_pid != amber_sys_getpid()) drop_inherited();
  open_uffd();
  publish(); /* also after the descriptor moved (table_fd.c) */
}

/* Amber's own library data: written by the agent itself while it writes the image. */
extern char _end[] __attribute__((visibility("hidden")));
static uint64_t library_data_start(void) {
  for (int i = 0; i < amber_file_regions(); i++) {
    struct amber_region_rec *r = amber_file_region(i);
    if (r->start <= (uint64_t)&amber_track_fd && (uint64_t)&amber_track_fd < r->end) return r->start;
  }
  return (uint64_t)&amber_track_fd;
}

static int candidate(int i, uint64_t lib_start) {
  struct amber_region_rec *r = amber_file_region(i);
  if (r->kind == AMBER_REGION_FILE) return r->end <= lib_start || r->start >= (uint64_t)_end;
  if (r->kind != AMBER_REGION_ANON || (r->flags & AMBER_REGION_FROM_IMAGE) || r->ino) return 0;
  return r->end <= lib_start || r->start >= (uint64_t)_end;
}

static int within_armed(const struct amber_region_rec *r) {
  int lo = 0, hi = narmed; /* the last range starting at or before r */
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (armed[mid].start <= r->start) lo = mid + 1;
    else hi = mid;
  }
  return lo > 0 && r->end <= armed[lo - 1].end && armed[lo - 1].file == (r->kind == AMBER_REGION_FILE);
}

static long register_wp(const struct amber_region_rec *r) {
  struct amber_uffdio_register reg = {r->start, r->end - r->start, AMBER_UFFDIO_REGISTER_MODE_WP, 0};
  return amber_sys3(SYS_ioctl, amber_track_fd, AMBER_UFFDIO_REGISTER, &reg);
}

int amber_track_classify(int pagemap_fd, uint64_t parent_epoch) {
  amber_track_release();
  int n = amber_file_regions();
  per_region_bytes = ((uint64_t)(n ? n : 1) * sizeof *per_region + AMBER_PAGE - 1) & ~(AMBER_PAGE - 1ULL);
  per_region = map_anon(per_region_bytes);
  if (!per_region) return 0; /* nothing tracked, nothing armed */
  if (armed_pid != amber_sys_getpid() ||
      (amber_track_fd >= 0 && !is_userfaultfd(amber_track_fd)))
    drop_inherited();
  int have = amber_track_fd >= 0 && epoch && published();
  usable = have && parent_epoch == epoch;
  uint64_t lib_start = library_data_start();
  for (int i = 0; i < n; i++) {
    struct amber_region_rec *r = amber_file_region(i);
    per_region[i].state = UNTRACKED;
    if (!candidate(i, lib_start)) continue;
    /* Its registration, if it is this agent's, is no program's userfaultfd serving it. */
    if ((r->vm_flags & AMBER_VM_UFFD) && (amber_track_fd < 0 || register_wp(r) != 0)) continue;
    r->vm_flags &= ~AMBER_VM_UFFD;
    if (amber_file_region_frozen(i)) continue;
    per_region[i].state = TO_ARM;
    if (!have || !within_armed(r)) continue;
    struct pm_scan_arg check = pm_wpasync_check(r->start, r->end);
    if (amber_sys3(SYS_ioctl, pagemap_fd, PAGEMAP_SCAN, &check) != 0) continue;
    long reg = register_wp(r); /* a no-op on this agent's registration */
    if (reg == -EBUSY) per_region[i].state = UNTRACKED; /* the program's own userfaultfd */
    else if (reg == 0) per_region[i].state = TRACKED;
  }
  return 0;
}

static int grow_written(void) {
  uint64_t cap = written_cap ? written_cap * 2 : 4096;
  long addr = written ? amber_sys5(SYS_mremap, written, written_cap * sizeof *written,
                                   cap * sizeof *written, MREMAP_MAYMOVE, 0)
                      : (long)map_anon(cap * sizeof *written);
  if (!addr || (addr < 0 && addr > -4096)) return -ENOMEM;
  written = (struct pm_page_region *)addr;
  written_cap = cap;
  return 0;
}

/* The written pages of r into `written`, protected again. */
static long scan_written(int pagemap_fd, const struct amber_region_rec *r) {
  for (uint64_t at = r->start; at < r->end;) {
    if (nwritten == written_cap && grow_written()) return -ENOMEM;
    struct pm_scan_arg a =
        pm_written_scan(at, r->end, written + nwritten, written_cap - nwritten);
    long n = amber_sys3(SYS_ioctl, pagemap_fd, PAGEMAP_SCAN, &a);
    if (n < 0) return n;
    nwritten += (uint64_t)n;
    if (a.walk_end <= at) return -EIO;
    at = a.walk_end;
  }
  return 0;
}

/* Protects every page of r that holds data (what the scan reports is dropped). */
static long protect(int pagemap_fd, const struct amber_region_rec *r) {
  static struct pm_page_region scratch[256];
  for (uint64_t at = r->start; at < r->end;) {
    struct pm_scan_arg a = pm_written_scan(at, r->end, scratch, 256);
    long n = amber_sys3(SYS_ioctl, pagemap_fd, PAGEMAP_SCAN, &a);
    if (n < 0) return n;
    if (a.walk_end <= at) return -EIO;
    at = a.walk_end;
  }
  return 0;
}

/* The pages the agent (or the kernel) may write after the scan: near each thread's saved
 * stack pointer (the handler's frames), and its thread pointer (this library's thread-local
 * variables below it, the rseq area the kernel updates above it). */
#define STACK_BELOW (256 * 1024)
#define STACK_ABOVE (16 * 1024)
#define TLS_BELOW (128 * 1024)
#define TLS_ABOVE (8 * 1024)
static int add_window(const struct amber_region_rec *r, uint64_t at, uint64_t below,
                      uint64_t above) {
  at &= ~(AMBER_PAGE - 1ULL);
  uint64_t from = at > below ? at - below : 0, to = at + above;
  if (from < r->start) from = r->start;
  if (to > r->end) to = r->end;
  if (from >= to) return 0;
  if (nwritten == written_cap && grow_written()) return -ENOMEM;
  written[nwritten++] = (struct pm_page_region){from, to, PAGE_IS_WRITTEN};
  return 0;
}

static int add_stack_windows(const struct amber_region_rec *r) {
  int err = 0;
  for (int t = 0; t < amber_ckpt.nthreads && !err; t++) {
    err = add_window(r, amber_ckpt.threads[t].ctx.rsp, STACK_BELOW, STACK_ABOVE);
    if (!err && amber_ckpt.threads[t].fs_base)
      err = add_window(r, amber_ckpt.threads[t].fs_base, TLS_BELOW, TLS_ABOVE);
  }
  return err;
}

/* Sorts a region's few runs by start (the windows come after the scanned runs). */
static void sort_runs(struct pm_page_region *runs, uint64_t n) {
  for (uint64_t i = 1; i < n; i++)
    for (uint64_t j = i; j > 0 && runs[j - 1].start > runs[j].start; j--) {
      struct pm_page_region t = runs[j];
      runs[j] = runs[j - 1], runs[j - 1] = t;
    }
}

/* Registers region i and protects every page of it that holds data; 0, or -errno. Bits a
 * registration dropped meanwhile may have left (mremap) are cleared first, unless this process
 * never armed: a page must be protected only if it is unwritten since now. */
static long arm_fresh(int pagemap_fd, const struct amber_region_rec *r, int clear_first) {
  long err = register_wp(r);
  struct amber_uffdio_writeprotect clear = {r->start, r->end - r->start, 0};
  if (!err && clear_first)
    err = amber_sys3(SYS_ioctl, amber_track_fd, AMBER_UFFDIO_WRITEPROTECT, &clear);
  if (!err) err = protect(pagemap_fd, r);
  return err < 0 ? err : 0;
}

static uint64_t new_epoch(void) {
  uint64_t e = 0;
  if (amber_sys3(SYS_getrandom, &e, sizeof e, 0) != sizeof e) {
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    e = (((uint64_t)hi << 32) | lo) ^ ((uint64_t)amber_sys_getpid() << 40);
  }
  return e ? e : 1;
}

uint64_t amber_track_scan_and_arm(int pagemap_fd) {
  if (!per_region) return 0;
  if (amber_track_fd < 0 && open_uffd() < 0) {
    narmed = 0, epoch = 0, usable = 0;
    return 0;
  }
  narmed = 0;
  int clear_first = ever_armed;
  int ending = (amber.table->ctl.flags & AMBER_SNAPSHOT_ENDING) != 0;
  ever_armed = 1;
  for (int i = 0; i < amber_file_regions(); i++) {
    struct amber_region_rec *r = amber_file_region(i);
    struct region_track *t = &per_region[i];
    if (t->state == UNTRACKED) continue;
    if (t->state == TRACKED) {
      t->first = nwritten;
      long err = scan_written(pagemap_fd, r);
      if (!err) err = add_stack_windows(r);
      if (err) t->state = TO_ARM, nwritten = t->first;
      else t->n = nwritten - t->first, sort_runs(written + t->first, t->n);
    }
    if (t->state == TO_ARM && (ending || arm_fresh(pagemap_fd, r, clear_first))) continue;
    if (narmed < MAX_ARMED)
      armed[narmed++] = (struct armed_range){r->start, r->end, r->kind == AMBER_REGION_FILE};
  }
  epoch = narmed ? new_epoch() : 0;
  armed_pid = amber_sys_getpid();
  publish_epoch();
  return epoch;
}

int amber_track_runs(int i, const struct pm_page_region **runs, uint64_t *n) {
  if (!usable || !per_region || per_region[i].state != TRACKED) return 0;
  *runs = written + per_region[i].first;
  *n = per_region[i].n;
  return 1;
}

int amber_track_used(void) { return usable; }

uint64_t amber_track_precopied(const struct amber_precopy_range *ranges, uint32_t n, int32_t fd) {
  if (fd != amber_track_fd || fd < 0 || armed_pid != amber_sys_getpid()) return 0;
  narmed = 0;
  for (uint32_t i = 0; i < n; i++) {
    const struct amber_precopy_range *r = &ranges[i];
    if (!(r->flags & AMBER_PRECOPY_ARMED)) continue;
    int file = (r->flags & AMBER_PRECOPY_FILE) != 0;
    struct armed_range *last = narmed ? &armed[narmed - 1] : 0;
    if (last && last->end == r->start && last->file == file) last->end = r->end; /* merged since? */
    else if (narmed < MAX_ARMED) armed[narmed++] = (struct armed_range){r->start, r->end, file};
    else return 0;
  }
  ever_armed = 1; /* bits a dropped registration left behind are cleared before arming again */
  epoch = narmed ? new_epoch() : 0;
  publish_epoch();
  return epoch;
}

uint64_t amber_track_written_pages(void) {
  uint64_t pages = 0;
  for (uint64_t i = 0; i < nwritten; i++) pages += (written[i].end - written[i].start) / AMBER_PAGE;
  return pages;
}
