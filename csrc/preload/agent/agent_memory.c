/* Writes this process's file of the image: its memory map, the pages worth saving, and its
 * threads. /proc/self/pagemap tells which pages hold data: a page never touched is not
 * written (it comes back as zeros), and a clean page of a private file mapping is not written
 * (it comes back from the file). Pages go to the file page-aligned (through a copy that is hashed,
 * agent_pages.c), so a restore can read or map them in place. */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>

#include "agent.h"
#include "../../common/broker.h"
#include "../../common/vm_flags.h"
#include "agent_lines.h"
#include "agent_defer.h"
#include "agent_file.h"
#include "agent_freeze_times.h"
#include "agent_pages.h"
#include "agent_precopy.h"
#include "agent_share.h"
#include "agent_shmem.h"
#include "agent_sink.h"
#include "agent_track.h"
#include "../fds/fd_locks.h"
#include "../vne/net_vne.h"
#include "../wrappers/sysv.h"

/* The regions, in memory from mmap sized to the map when a snapshot begins. The list is kept
 * until the next one: it is part of the image, and a restore reads it back to share memory. */
static struct amber_region_rec *regions;
static uint64_t regions_bytes;
static int region_count, region_cap;

static int error(const char *what, long err) {
  amber_fmt_error(amber_ckpt.error, sizeof amber_ckpt.error, what, err);
  return err < 0 ? (int)err : -EIO;
}

/* Is the mapped file still the one at its path? Records its size and time for the restore,
 * which maps it again only if they are the same. */
static int same_file(struct amber_region_rec *r) {
  struct stat st;
  if (amber_sys4(SYS_newfstatat, AT_FDCWD, r->name, &st, 0) < 0 || st.st_ino != r->ino) return 0;
  r->file_size = st.st_size;
  r->file_mtime_ns = st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
  return 1;
}

/* A file mapped shared for writing holds the program's data, written in place through memory:
 * its size and time are recorded for the restore to see whether it changed since
 * (src/changed_files.ts). A page written since it was last written back takes more writes
 * without a fault, and so without a new time: the mapping is written back first (the process
 * is frozen), so that the running program's next write to it faults and moves the time. */
static void shared_file_written(struct amber_region_rec *r) {
  if (!(r->prot & PROT_WRITE)) return;
  amber_sys3(SYS_msync, r->start, r->end - r->start, MS_SYNC);
  same_file(r);
}

/* A /dev/shm file (POSIX shared memory) is memory, gone with the computer: its pages are saved as
 * shared memory's are, and its size, mode, owner and time for the restore to make it again. */
static int shm_file(struct amber_region_rec *r) {
  struct stat st;
  if (strncmp(r->name, "/dev/shm/", 9) || amber_sys4(SYS_newfstatat, AT_FDCWD, r->name, &st, 0) < 0 ||
      st.st_ino != r->ino || !S_ISREG(st.st_mode))
    return 0;
  r->flags |= AMBER_REGION_SHM_FILE;
  r->file_size = st.st_size;
  r->file_mode = st.st_mode & 07777;
  r->file_mtime_ns = st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
  r->shmid = (int32_t)st.st_uid, r->file_gid = st.st_gid;
  return 1;
}

static int is_image_file(const char *name) {
  const char *base = name;
  for (const char *p = name; *p; p++)
    if (*p == '/') base = p + 1;
  size_t n = strlen(base);
  size_t np = sizeof AMBER_PROC_FILE_PREFIX - 1, ns = sizeof AMBER_PROC_FILE_SUFFIX - 1;
  return !strncmp(base, AMBER_PROC_FILE_PREFIX, np) && n > ns && !strcmp(base + n - ns, AMBER_PROC_FILE_SUFFIX);
}

/* A mapping of kernel state that is not memory: an AIO context's ring (io_setup; the ring's
 * address is the context's id, and requests in flight live in the kernel) or an anon_inode's
 * (io_uring, perf_event, dma-buf rings mapped after their descriptor was closed). Mapping its
 * pages back as memory would lose the object behind them, so the snapshot refuses it. */
static int kernel_object_mapping(const char *name) {
  return !strcmp(name, "/[aio] (deleted)") || !strncmp(name, "anon_inode:", 11);
}

/* One /proc/self/maps line into a region record; 1 if it is kept, -1 if its path is too long
 * to save, -2 if it maps kernel state that Amber cannot save (kernel_object_mapping). */
static int parse_region(const char *line, struct amber_region_rec *r, int *is_file) {
  const char *p = line;
  uint64_t start, end, pgoff, major, minor, ino;
  memset(r, 0, sizeof *r);
  if (amber_parse_u64(&p, &start, 16) || *p++ != '-' || amber_parse_u64(&p, &end, 16)) return 0;
  p++;
  r->start = start, r->end = end;
  r->prot = (p[0] == 'r' ? PROT_READ : 0) | (p[1] == 'w' ? PROT_WRITE : 0) |
            (p[2] == 'x' ? PROT_EXEC : 0);
  int shared = p[3] == 's';
  p += 5;
  amber_parse_u64(&p, &pgoff, 16);
  p++;
  amber_parse_u64(&p, &major, 16);
  p++;
  amber_parse_u64(&p, &minor, 16);
  p++;
  amber_parse_u64(&p, &ino, 10);
  while (*p == ' ') p++;
  int n = 0;
  while (p[n] && p[n] != '\n' && n < (int)sizeof r->name - 1) r->name[n] = p[n], n++;
  int cut = p[n] && p[n] != '\n'; /* a longer name would map another file again */
  r->pgoff = pgoff;
  r->ino = ino;
  r->dev = (major << 8) | minor;
  *is_file = ino != 0;

  if (!strcmp(r->name, "[vsyscall]")) return 0;
  if (amber_net_table_mapping(start)) return 0; /* this computer's VNE table: re-mapped after */
  if (!strcmp(r->name, "[vdso]") || !strncmp(r->name, "[vvar", 5)) r->kind = AMBER_REGION_SPECIAL;
  else if (start == (uint64_t)amber.table) r->kind = AMBER_REGION_TABLES;
  else if (!strncmp(r->name, "/SYSV", 5)) {
    r->kind = AMBER_REGION_SYSV_SHM;
    r->shmid = amber_sysv_shm_at(start);
  } else if (kernel_object_mapping(r->name)) {
    return -2;
  } else if (shared) {
    /* A named semaphore's maker maps it under sem_open's temporary name, since deleted: it is
     * the file still linked under its real name (shm_names.c), as the other processes map it. */
    amber_shm_linked_name(r);
    /* A deleted file has no path to map again: its pages are saved as shared memory's are. */
    int anon = !*is_file || amber_is_deleted(r->name) || !strncmp(r->name, "/dev/zero", 9) ||
               !strncmp(r->name, "/memfd:", 7) || shm_file(r);
    r->kind = anon ? AMBER_REGION_ANON_SHARED : AMBER_REGION_FILE_SHARED;
    if (!anon && cut) return -1;
    if (!anon) shared_file_written(r);
  } else if (*is_file && is_image_file(r->name)) {
    /* Pages a lazy restore mapped from an image are the program's data, not a file's: saved
     * like anonymous memory, every one of them, so the new image stands on its own. */
    r->kind = AMBER_REGION_ANON;
    r->flags |= AMBER_REGION_FROM_IMAGE;
  } else if (*is_file && r->name[0] == '/' && !cut && same_file(r)) {
    r->kind = AMBER_REGION_FILE;
  } else {
    r->kind = AMBER_REGION_ANON;
    if (!strcmp(r->name, "[heap]")) r->flags |= AMBER_REGION_HEAP;
    if (!strcmp(r->name, "[stack]")) r->flags |= AMBER_REGION_GROWSDOWN;
  }
  return 1;
}

/* Fields of /proc/self/stat after the command name, counted from 3 (state). */
void amber_mm_fields(struct amber_proc_header *h) {
  static char stat[2048];
  if (amber_read_file("/proc/thread-self/stat", stat, sizeof stat) <= 0) return;
  const char *p = stat;
  for (const char *q = stat; *q; q++)
    if (*q == ')') p = q + 2; /* the last ')' ends the command name */
  uint64_t v[64] = {0};
  for (int field = 3; field < 64 && *p; field++) {
    if (*p == '-') p++;
    amber_parse_u64(&p, &v[field], 10);
    while (*p && *p != ' ') p++;
    while (*p == ' ') p++;
  }
  h->start_code = v[26], h->end_code = v[27], h->start_stack = v[28];
  h->start_data = v[45], h->end_data = v[46], h->start_brk = v[47];
  h->arg_start = v[48], h->arg_end = v[49], h->env_start = v[50], h->env_end = v[51];
  h->brk = (uint64_t)amber_sys1(SYS_brk, 0);
  long n = amber_read_file("/proc/thread-self/auxv", (char *)h->auxv, sizeof h->auxv);
  h->auxv_words = n > 0 ? (uint32_t)(n / 8) : 0;
}

static uint64_t xcr0(void) {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((uint64_t)hi << 32) | lo;
}

/* A clock as this process reads it (in its time namespace), in whole seconds rounded up. */
static uint32_t clock_seconds_up(int clock) {
  struct timespec ts;
  if (amber_sys2(SYS_clock_gettime, clock, &ts)) return 0;
  return (uint32_t)(ts.tv_sec + 1);
}

static void fill_header(struct amber_proc_header *h) {
  h->magic = AMBER_PROC_MAGIC;
  h->version = AMBER_PROC_VERSION;
  h->header_size = sizeof *h;
  h->vpid = amber.vpid;
  amber_mm_fields(h);
  h->restore_args_addr = (uint64_t)&amber_restore_args;
  h->xcr0 = xcr0();
  h->monotonic_s = clock_seconds_up(CLOCK_MONOTONIC);
  h->boottime_s = clock_seconds_up(CLOCK_BOOTTIME);
  h->main_thread_gone = amber_ckpt.main_thread_gone;
  h->seccomp = amber_identity_seccomp();
  h->ncontinued = amber_reports_ncontinued;
  memcpy(h->continued, amber_reports_continued, sizeof h->continued);
  struct amber_agent_slot *slot = amber_agent_my_slot();
  h->fs_with_parent = slot ? slot->fs_with_parent : 0;
  amber_share_tree(&h->ppid, &h->pgid, &h->sid);
  amber_sys2(SYS_prctl, 16 /* PR_GET_NAME */, h->comm);
  long n = amber_sys4(SYS_readlinkat, AT_FDCWD, "/proc/thread-self/exe", h->exe, sizeof h->exe - 1);
  h->exe[n > 0 && n < (long)sizeof h->exe - 1 ? n : 0] = 0; /* never a shorter, other path */
}

static int count_line(void *ctx, const char *line) {
  (void)line;
  ++*(int *)ctx;
  return 0;
}

struct map_reader {
  int kept; /* the last region's line gave a region */
  int err;
};

/* /proc/self/smaps: a region's line as in maps, then lines "Key: value" about it. */
static int smaps_line(void *ctx, const char *line) {
  struct map_reader *m = ctx;
  if ((*line >= '0' && *line <= '9') || (*line >= 'a' && *line <= 'f')) {
    if (region_count == region_cap)
      return m->err = error("the memory map grew while it was read", -E2BIG);
    int is_file;
    m->kept = parse_region(line, &regions[region_count], &is_file);
    if (m->kept == -2) {
      const char *name = regions[region_count].name;
      return m->err = error(!strncmp(name, "/[aio]", 6)
                                ? "an asynchronous I/O context (io_setup) is open: the kernel's AIO state (its ring and the requests in flight) cannot be saved"
                                : "a kernel object's ring is mapped (an anon_inode mapping: io_uring, perf_event or the like): its state cannot be saved",
                            -EOPNOTSUPP);
    }
    if (m->kept < 0)
      return m->err = error(
                 "a file mapped shared has a path longer than 255 bytes, which Amber cannot save",
                 -ENAMETOOLONG);
    region_count += m->kept;
  } else if (m->kept && !strncmp(line, "VmFlags:", 8)) {
    struct amber_region_rec *r = &regions[region_count - 1];
    r->vm_flags = amber_vm_flags_parse(line + 8);
    if (r->vm_flags & AMBER_VM_GROWSDOWN) r->flags |= AMBER_REGION_GROWSDOWN;
  }
  return 0;
}

/* The memory map, read once before anything is written: writing must not change it. With
 * `with_flags`, from /proc/self/smaps, whose VmFlags cost a walk of every page table; without,
 * from /proc/self/maps (a copy-on-write snapshot's copy reads them after, agent_cow.c). */
static int list_regions(int with_flags) {
  if (regions) amber_sys2(SYS_munmap, regions, regions_bytes);
  regions = 0;
  region_count = 0;
  int lines = 0;
  int err = amber_read_lines("/proc/thread-self/maps", count_line, &lines);
  if (err) return error("cannot read /proc/self/maps", err);
  region_cap = lines + 64; /* and this list's own mapping */
  regions_bytes = ((uint64_t)region_cap * sizeof *regions + AMBER_PAGE - 1) & ~(AMBER_PAGE - 1ULL);
  long addr = amber_sys6(SYS_mmap, 0, regions_bytes, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (addr < 0 && addr > -4096) return error("no memory for the list of memory regions", addr);
  regions = (struct amber_region_rec *)addr;
  struct map_reader m = {0, 0};
  err = amber_read_lines(with_flags ? "/proc/thread-self/smaps" : "/proc/thread-self/maps",
                         smaps_line, &m);
  if (m.err) return m.err;
  if (err) return error(with_flags ? "cannot read /proc/self/smaps" : "cannot read /proc/self/maps", err);
  for (int i = 0; i < region_count; i++) {
    struct amber_region_rec *r = &regions[i];
    /* Shared memory is saved once, by its owner, and handed to the others on restore. */
    if (r->kind == AMBER_REGION_ANON_SHARED) r->owner_vpid = amber_share_region_owner(r->dev, r->ino);
    if (r->kind == AMBER_REGION_SYSV_SHM && r->shmid < 0)
      return error("a SysV shared-memory segment is attached that Amber did not see attached, or that was removed while attached", -EINVAL);
    err = amber_shmem_check_cover(regions, region_count, i);
    if (err) return err;
  }
  return 0;
}

/* PR_SET_THP_DISABLE, kept in this library's memory (which the image holds) for the restore. */
static long thp_disabled;

int amber_memory_state_after_restore(void) {
  long err = amber_sys2(SYS_prctl, 41 /* PR_SET_THP_DISABLE */, thp_disabled);
  return err ? error("cannot disable transparent huge pages again", err) : 0;
}

/* The process file being written: begun in the handler (file_begin), its pages saved in one
 * pass (file_pages), or in two for a copy-on-write snapshot (agent_cow.c), and ended with its
 * sections and header (file_end). */
static struct amber_proc_header h;
static char path[AMBER_CTL_PATH + 32];
static struct amber_sink sink;
static struct page_writer w;
static int nregions;
static int precopied, flags_known;

/* A region whose pages a copy of the process (fork) would not hold as they are now: shared
 * memory, regions not copied (MADV_DONTFORK) or wiped (MADV_WIPEONFORK) on fork or that a
 * userfaultfd serves, and the file of a private mapping that is gone (every page is saved,
 * read from the file). */
static int whole_region(const struct amber_region_rec *r) {
  return r->kind == AMBER_REGION_ANON && r->ino != 0 && !(r->flags & AMBER_REGION_FROM_IMAGE);
}

int amber_file_region_frozen(int i) {
  const struct amber_region_rec *r = &regions[i];
  return r->kind == AMBER_REGION_ANON_SHARED || whole_region(r) ||
         (r->vm_flags & (AMBER_VM_DONTFORK | AMBER_VM_WIPEONFORK | AMBER_VM_UFFD));
}

int amber_file_begin(const char *dir, int with_flags) {
  memset(&h, 0, sizeof h);
  memset(&w, 0, sizeof w);
  w.pagemap_fd = -1;
  amber_fmt(path, sizeof path, AMBER_PROC_FILE_FMT, dir, amber.vpid);
  const char *parent_dir = amber.table->ctl.parent_dir;
  /* The map is read before the pre-copy's index is loaded: the memory that holds it is not
   * the program's, and not in the image. */
  int maybe = (amber.table->ctl.flags & AMBER_SNAPSHOT_PRECOPIED) != 0;
  int smaps = with_flags == 1 || (with_flags == 2 && !maybe);
  int err = list_regions(smaps);
  amber_freeze_mark("maps");
  nregions = region_count;
  uint64_t data_end = AMBER_PAGE; /* after the header's page */
  precopied = !err && maybe && amber_precopy_take(dir, path, &w.parent, &data_end);
  amber_freeze_mark("pre-copy index");
  flags_known = smaps || (precopied && amber_precopy_flags(regions));
  if (!err && with_flags == 2 && !flags_known) err = list_regions(1), flags_known = 1;
  nregions = region_count;
  int opened = precopied ? amber_sink_open_kept(&sink, path)
                         : amber_sink_open(&sink, path, amber_agent_write_wanted);
  if (opened) return error("cannot create the process file", opened);
  w.sink = &sink;
  w.pagemap_fd = (int)amber_sys3(SYS_openat, AT_FDCWD, "/proc/thread-self/pagemap", O_RDONLY | O_CLOEXEC);
  if (!err && w.pagemap_fd < 0) err = error("cannot open /proc/self/pagemap", w.pagemap_fd);

  thp_disabled = amber_sys2(SYS_prctl, 42 /* PR_GET_THP_DISABLE */, 0) > 0;
  nregions = region_count;
  fill_header(&h);
  /* A pre-copy's index of an incremental image refers to the parent itself where it must. */
  if (!err && parent_dir[0] && !precopied) {
    err = pages_load_parent(parent_dir, amber.vpid, &w.parent);
    if (!err && w.parent) memcpy(h.parent_dir, parent_dir, sizeof h.parent_dir);
  } else if (!err && parent_dir[0] && amber_precopy_refers_up()) {
    memcpy(h.parent_dir, parent_dir, sizeof h.parent_dir);
  }
  uint64_t epoch = precopied ? amber_precopy_track() : pages_parent_epoch(w.parent);
  if (!err) err = amber_track_classify(w.pagemap_fd, epoch);
  amber_freeze_mark("classified");
  w.data_end = data_end;
  pages_begin();
  return err;
}

int amber_file_precopied(void) { return precopied; }
int amber_file_flags_known(void) { return flags_known; }

struct page_writer *amber_file_writer(void) { return &w; }
struct amber_sink *amber_file_sink(void) { return &sink; }
int amber_file_regions(void) { return nregions; }
struct amber_region_rec *amber_file_region(int i) { return &regions[i]; }

/* Saves the pages of region i; 0 or -errno. */
int amber_file_save_region(int i) {
  const struct pm_page_region *written;
  uint64_t n;
  if (amber_track_runs(i, &written, &n)) {
    if (amber_defer_mode != AMBER_DEFER_RECORD) h.dirty_tracked++; /* counted when written */
    return pages_save_tracked(&w, &regions[i], written, n);
  }
  return pages_save_region(&w, &regions[i], whole_region(&regions[i]));
}

void amber_file_track(void) { h.dirty_epoch = amber_track_scan_and_arm(w.pagemap_fd); }

/* The sections after the pages: the records captured frozen, or a copy of them, taken frozen,
 * for a write that ends after the thaw (agent_defer.h), as the handler releases descriptors
 * (amber_fds_release) meanwhile. */
static struct sections {
  const struct amber_thread_rec *threads;
  const struct amber_fd_rec *fds;
  const struct amber_lock_rec *locks;
  int32_t nthreads, nfds, nlocks;
  void *copy;
  uint64_t bytes;
} sections;

int amber_file_keep_sections(void) {
  int32_t nlocks;
  const struct amber_lock_rec *locks = amber_locks_saved(&nlocks);
  uint64_t t = sizeof(struct amber_thread_rec) * amber_ckpt.nthreads;
  uint64_t f = sizeof(struct amber_fd_rec) * amber_ckpt.nfds, l = sizeof *locks * nlocks;
  uint64_t bytes = (t + f + l + AMBER_PAGE) & ~(AMBER_PAGE - 1ULL);
  long addr = amber_sys6(SYS_mmap, 0, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                         -1, 0);
  if (addr < 0 && addr > -4096) return error("no memory to keep the process's records in", addr);
  char *p = (char *)addr;
  memcpy(p, amber_ckpt.threads, t);
  memcpy(p + t, amber_ckpt.fds, f);
  memcpy(p + t + f, locks, l);
  sections = (struct sections){(const void *)p, (const void *)(p + t), (const void *)(p + t + f),
                               amber_ckpt.nthreads, amber_ckpt.nfds, nlocks, p, bytes};
  return 0;
}

static void drop_sections(void) {
  if (sections.copy) amber_sys2(SYS_munmap, sections.copy, sections.bytes);
  memset(&sections, 0, sizeof sections);
}

void amber_file_forget_sections(void) { memset(&sections, 0, sizeof sections); }

int amber_file_end(int err) {
  amber_freeze_mark("pages");
  if (!err) err = pages_write_batch(&w);
  if (!err) {
    h.data_off = AMBER_PAGE;
    h.data_len = w.data_end - AMBER_PAGE;
    h.nregions = nregions;
    h.nruns = w.nruns;
    h.npages = w.npages;
    const struct amber_thread_rec *threads = sections.copy ? sections.threads : amber_ckpt.threads;
    const struct amber_fd_rec *fds = sections.copy ? sections.fds : amber_ckpt.fds;
    h.nthreads = sections.copy ? sections.nthreads : amber_ckpt.nthreads;
    h.nfds = sections.copy ? sections.nfds : amber_ckpt.nfds;
    uint64_t off = w.data_end;
    h.threads_off = off;
    off += sizeof(struct amber_thread_rec) * h.nthreads;
    h.regions_off = off;
    off += sizeof(struct amber_region_rec) * nregions;
    h.runs_off = off;
    off += sizeof(struct amber_run_rec) * w.nruns;
    h.fds_off = off;
    off += sizeof(struct amber_fd_rec) * h.nfds;
    h.hashes_off = off;
    off += 8 * w.npages;
    const struct amber_lock_rec *locks = amber_locks_saved(&h.nlocks);
    if (sections.copy) locks = sections.locks, h.nlocks = sections.nlocks;
    h.locks_off = off;
    off += sizeof *locks * h.nlocks;
    h.file_size = off;
    struct amber_sink *s = &sink;
    /* Everything but the pages goes into a stream's index too (agent_sink.h). */
    err = amber_sink_write_indexed(s, threads, h.regions_off - h.threads_off,
                                   h.threads_off);
    if (!err) err = amber_sink_write_indexed(s, regions, h.runs_off - h.regions_off, h.regions_off);
    if (!err) err = amber_sink_write_indexed(s, w.runs, h.fds_off - h.runs_off, h.runs_off);
    if (!err)
      err = amber_sink_write_indexed(s, fds, h.hashes_off - h.fds_off, h.fds_off);
    if (!err)
      err = amber_sink_write_indexed(s, w.hashes, h.locks_off - h.hashes_off, h.hashes_off);
    if (!err) err = amber_sink_write_indexed(s, locks, h.file_size - h.locks_off, h.locks_off);
    /* The header goes last (a stream's trailer): a file with a valid magic is a complete one. */
    if (!err) err = amber_sink_finish(s, &h, sizeof h);
    if (err) err = error("cannot write the process file", err);
  }
  pages_release(&w);
  amber_track_release();
  amber_precopy_release();
  drop_sections();
  if (w.pagemap_fd >= 0) amber_sys1(SYS_close, w.pagemap_fd);
  amber_sink_close(&sink, path, err != 0);
  amber_freeze_mark("file end");
  return err;
}

int amber_write_process_file(const char *dir) {
  int err = amber_file_begin(dir, 2);
  if (!err) amber_file_track();
  for (int i = 0; i < nregions && !err; i++) err = amber_file_save_region(i);
  return amber_file_end(err);
}

int amber_shared_memory_after_restore(int phase) {
  for (int i = 0; i < region_count; i++) {
    struct amber_region_rec *r = &regions[i];
    if (r->kind != AMBER_REGION_ANON_SHARED) continue;
    int mine = r->owner_vpid == amber.vpid;
    if (mine != (phase == 0)) continue;
    int err = amber_shmem_share_again(regions, region_count, i);
    if (err && r->flags & AMBER_REGION_SHM_FILE) return err; /* the error names the file */
    if (err) return error("cannot share memory with the other processes again", err);
  }
  return 0;
}
