/* Writes this process's file of the image: its memory map, the pages worth saving, and its
 * threads. /proc/self/pagemap tells which pages hold data: a page never touched is not
 * written (it comes back as zeros), and a clean page of a private file mapping is not written
 * (it comes back from the file). Pages go from memory straight to the file, page-aligned, so
 * a restore can read (or later map) them in place. */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>

#include "agent.h"
#include "../common/broker.h"
#include "agent_pages.h"
#include "agent_share.h"
#include "agent_sink.h"
#include "net_vne.h"
#include "sysv.h"

#define MAX_REGIONS 4096
#define MAX_RUNS 262144

static struct amber_region_rec regions[MAX_REGIONS];
static int region_count; /* regions[] survives in the image: the restore reads it back */
static struct amber_run_rec runs[MAX_RUNS];
static char maps_text[1 << 20];

static int error(const char *what, long err) {
  amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error, "%s (error %d)", what, (int)-err);
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

static int is_image_file(const char *name) {
  const char *base = name;
  for (const char *p = name; *p; p++)
    if (*p == '/') base = p + 1;
  size_t n = strlen(base);
  return !strncmp(base, "process-", 8) && n > 4 && !strcmp(base + n - 4, ".img");
}

/* One /proc/self/maps line into a region record; 1 if it is kept. */
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
  } else if (shared) {
    /* A deleted file has no path to map again: its pages are saved as shared memory's are. */
    int anon = !*is_file || amber_is_deleted(r->name) || !strncmp(r->name, "/dev/zero", 9) ||
               !strncmp(r->name, "/memfd:", 7);
    r->kind = anon ? AMBER_REGION_ANON_SHARED : AMBER_REGION_FILE_SHARED;
    /* Shared memory is saved once, by its owner, and handed to the others on restore. */
    if (anon) r->owner_vpid = amber_share_region_owner(ino);
  } else if (*is_file && is_image_file(r->name)) {
    /* Pages a lazy restore mapped from an image are the program's data, not a file's: saved
     * like anonymous memory, every one of them, so the new image stands on its own. */
    r->kind = AMBER_REGION_ANON;
    r->flags |= AMBER_REGION_FROM_IMAGE;
  } else if (*is_file && r->name[0] == '/' && same_file(r)) {
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

static void fill_header(struct amber_proc_header *h) {
  h->magic = AMBER_PROC_MAGIC;
  h->version = AMBER_PROC_VERSION;
  h->header_size = sizeof *h;
  h->vpid = amber.vpid;
  amber_mm_fields(h);
  h->restore_args_addr = (uint64_t)&amber_restore_args;
  h->xcr0 = xcr0();
  h->main_thread_gone = amber_ckpt.main_thread_gone;
  amber_share_tree(&h->ppid, &h->pgid, &h->sid);
  amber_sys2(SYS_prctl, 16 /* PR_GET_NAME */, h->comm);
  long n = amber_sys4(SYS_readlinkat, AT_FDCWD, "/proc/thread-self/exe", h->exe, sizeof h->exe - 1);
  h->exe[n > 0 ? n : 0] = 0;
}

int amber_write_process_file(const char *dir) {
  static struct amber_proc_header h;
  memset(&h, 0, sizeof h);
  char path[AMBER_CTL_PATH + 32];
  amber_fmt(path, sizeof path, "%s/process-%d.img", dir, amber.vpid);
  struct amber_sink sink;
  int opened = amber_sink_open(&sink, path, amber_agent_write_wanted);
  if (opened) return error("cannot create the process file", opened);
  struct page_writer w = {0};
  w.sink = &sink;
  w.runs = runs;
  w.max_runs = MAX_RUNS;
  w.pagemap_fd = (int)amber_sys3(SYS_openat, AT_FDCWD, "/proc/thread-self/pagemap", O_RDONLY | O_CLOEXEC);
  int err = w.pagemap_fd < 0 ? error("cannot open /proc/self/pagemap", w.pagemap_fd) : 0;

  /* The map is read once, before anything is written: writing must not change it. */
  long len = err ? 0 : amber_read_file("/proc/thread-self/maps", maps_text, sizeof maps_text);
  int nregions = 0;
  region_count = 0;
  for (const char *line = maps_text; !err && len > 0 && *line;) {
    if (nregions == MAX_REGIONS) err = error("too many memory regions", -E2BIG);
    int is_file;
    if (!err && parse_region(line, &regions[nregions], &is_file)) {
      struct amber_region_rec *r = &regions[nregions++];
      if (r->kind == AMBER_REGION_SYSV_SHM && r->shmid < 0)
        err = error("a SysV shared-memory segment is attached that Amber did not see attached, or that was removed while attached", -EINVAL);
    }
    while (*line && *line != '\n') line++;
    if (*line) line++;
  }
  region_count = nregions;
  fill_header(&h);
  const char *parent_dir = amber.table->ctl.parent_dir;
  if (!err && parent_dir[0]) {
    err = pages_load_parent(parent_dir, amber.vpid, &w.parent);
    if (!err && w.parent) memcpy(h.parent_dir, parent_dir, sizeof h.parent_dir);
  }
  w.data_end = AMBER_PAGE; /* the header's page */
  for (int i = 0; i < nregions && !err; i++) {
    /* A private mapping of a file that is gone keeps every page: it cannot be mapped again. */
    int whole = regions[i].kind == AMBER_REGION_ANON && regions[i].ino != 0 &&
                !(regions[i].flags & AMBER_REGION_FROM_IMAGE);
    err = pages_save_region(&w, &regions[i], whole);
  }
  if (!err) {
    h.data_off = AMBER_PAGE;
    h.data_len = w.data_end - AMBER_PAGE;
    h.nregions = nregions;
    h.nruns = w.nruns;
    h.npages = w.npages;
    h.nthreads = amber_ckpt.nthreads;
    h.nfds = amber_ckpt.nfds;
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
    h.file_size = off;
    struct amber_sink *s = &sink;
    /* Everything but the pages goes into a stream's index too (agent_sink.h). */
    err = amber_sink_write_indexed(s, amber_ckpt.threads, h.regions_off - h.threads_off,
                                   h.threads_off);
    if (!err) err = amber_sink_write_indexed(s, regions, h.runs_off - h.regions_off, h.regions_off);
    if (!err) err = amber_sink_write_indexed(s, runs, h.fds_off - h.runs_off, h.runs_off);
    if (!err)
      err = amber_sink_write_indexed(s, amber_ckpt.fds, h.hashes_off - h.fds_off, h.fds_off);
    if (!err)
      err = amber_sink_write_indexed(s, w.hashes, h.file_size - h.hashes_off, h.hashes_off);
    /* The header goes last (a stream's trailer): a file with a valid magic is a complete one. */
    if (!err) err = amber_sink_finish(s, &h, sizeof h);
    if (err) err = error("cannot write the process file", err);
  }
  pages_release(&w);
  if (w.pagemap_fd >= 0) amber_sys1(SYS_close, w.pagemap_fd);
  amber_sink_close(&sink, path, err != 0);
  return err;
}

/* The name a shared region's memfd gets: a memfd's own ("/memfd:NAME (deleted)"), since the
 * program may hold a descriptor to it too (fd_pathless.c takes this one); "amber-shared" else. */
static const char *memfd_name(const struct amber_region_rec *r, char *out, int cap) {
  if (strncmp(r->name, "/memfd:", 7)) return "amber-shared";
  amber_undeleted_name(r->name, 7, out, cap);
  return out;
}

/* After a restore: shared anonymous memory comes back private (the restorer has no broker);
 * its owner moves the contents into a memfd that every sharer maps in its place. */
static int share_region(struct amber_region_rec *r, int create) {
  uint64_t len = r->end - r->start;
  uint64_t key = amber_key(AMBER_KEY_SHMEM, r->ino);
  char name[250];
  int fd;
  if (create) {
    fd = (int)amber_sys2(SYS_memfd_create, memfd_name(r, name, sizeof name), MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return fd;
    long err = amber_sys2(SYS_ftruncate, fd, r->pgoff + len);
    if (!err) err = amber_write_at(fd, (void *)r->start, len, r->pgoff);
    if (!err) err = amber_broker_put(key, 0, fd);
    if (err) {
      amber_sys1(SYS_close, fd);
      return (int)err;
    }
  } else {
    fd = amber_broker_get(key, 0);
    if (fd < 0) return fd;
  }
  long addr = amber_sys6(SYS_mmap, r->start, len, r->prot, MAP_SHARED | MAP_FIXED, fd, r->pgoff);
  amber_sys1(SYS_close, fd);
  return addr < 0 && addr > -4096 ? (int)addr : 0;
}

int amber_shared_memory_after_restore(int phase) {
  for (int i = 0; i < region_count; i++) {
    struct amber_region_rec *r = &regions[i];
    if (r->kind != AMBER_REGION_ANON_SHARED) continue;
    int mine = r->owner_vpid == amber.vpid;
    if (mine != (phase == 0)) continue;
    int err = share_region(r, mine);
    if (err) return error("cannot share memory with the other processes again", err);
  }
  return 0;
}
