/* The address space: everything but the restorer goes, the kernel's own mappings move to where
 * the program had them, and the program's regions come back with their pages. */
#include <asm/prctl.h>
#include <fcntl.h>
#include <linux/prctl.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>

#include "../common/vm_flags.h"
#include "restorer.h"

static char maps_text[1 << 16];

/* One line of /proc/self/maps: "start-end perms offset dev inode   name". */
static void parse_mapping(const char *p, const char *eol, struct mapping *m) {
  rt_parse_hex(&p, &m->start);
  p++;
  rt_parse_hex(&p, &m->end);
  int private = p + 4 < eol && p[4] == 'p';
  const char *name = eol;
  while (name > p && name[-1] != ' ') name--;
  const char *inode = name; /* the inode number ends where the spaces before the name begin */
  while (inode > p && inode[-1] == ' ') inode--;
  m->anon_private = private && inode - 2 > p && inode[-1] == '0' && inode[-2] == ' ';
  int k = 0;
  while (name + k < eol && k < 31) m->name[k] = name[k], k++;
  m->name[k] = 0;
}

/* Calls `each` for every mapping of this process, as /proc/self/maps lists them, read a piece
 * at a time: an address space inherited from a parent's restorer (inherit.c) may have many
 * thousands. `each` may unmap what it is given. */
void for_each_mapping(void (*each)(const struct mapping *m, void *ctx), void *ctx) {
  int fd = (int)amber_sys3(SYS_openat, AT_FDCWD, "/proc/self/maps", O_RDONLY);
  if (fd < 0) die("cannot read /proc/self/maps", fd);
  long len = 0, n;
  while ((n = amber_sys3(SYS_read, fd, maps_text + len, sizeof maps_text - len)) > 0) {
    len += n;
    long at = 0;
    for (long i = 0; i < len; i++) {
      if (maps_text[i] != '\n') continue;
      struct mapping m;
      parse_mapping(maps_text + at, maps_text + i, &m);
      each(&m, ctx);
      at = i + 1;
    }
    len -= at; /* a line not yet whole waits for the next piece */
    for (long i = 0; i < len; i++) maps_text[i] = maps_text[at + i];
  }
  amber_sys1(SYS_close, fd);
}

static int is_special(const char *name) {
  return !strcmp(name, "[vdso]") || !strncmp(name, "[vvar", 5);
}

static void unmap_one(const struct mapping *m, void *ctx) {
  uint64_t self_start = (uint64_t)__executable_start & ~4095ULL;
  if (m->start >= self_start && m->end <= restorer_end) return;
  if (is_special(m->name) || !strcmp(m->name, "[vsyscall]")) return;
  *(int *)ctx += unmap_but_kept(m); /* all of it, but for the regions kept (inherit.c) */
}

/* Everything but the restorer itself, the kernel's own mappings and the regions kept from the
 * parent (inherit.c) goes; again while a pass finds something to unmap. */
void unmap_all_but_self(void) {
  uint64_t self_start = (uint64_t)__executable_start & ~4095ULL;
  for (int pass = 0, unmapped = 1; unmapped && pass < 8; pass++) {
    unmapped = 0;
    for_each_mapping(unmap_one, &unmapped);
  }
  for (int i = 0; i < hdr.nregions; i++)
    if (regions[i].start < restorer_end && regions[i].end > self_start)
      die("the program had memory where the restorer lives", 0);
}

struct specials {
  struct mapping maps[8];
  int n;
};

static void note_special(const struct mapping *m, void *ctx) {
  struct specials *s = ctx;
  if (is_special(m->name) && s->n < 8) s->maps[s->n++] = *m;
}

/* Where the kernel's mappings wait on their way (8 of 1 MiB at most): clear of every region of
 * the program, some of which may be mapped already, kept from the parent (inherit.c). */
static uint64_t scratch_area(void) {
  for (uint64_t at = 0x200000000000ULL; at < 0x700000000000ULL; at += 0x10000000000ULL) {
    int clear = 1;
    for (int k = 0; k < hdr.nregions && clear; k++)
      clear = regions[k].end <= at || regions[k].start >= at + 0x800000;
    if (clear) return at;
  }
  die("no room to move the vDSO through", 0);
}

/* The kernel's vDSO and vvar move to where the program expects them: its libc keeps pointers
 * into the vDSO. The image was checked to come from the same kernel, so sizes match. */
void move_kernel_mappings(void) {
  static struct specials found;
  found.n = 0;
  for_each_mapping(note_special, &found);
  struct mapping *maps = found.maps;
  int n = found.n;
  const uint64_t scratch = scratch_area();
  int moved = 0;
  /* Out of every target's way first, then into place. */
  for (int i = 0; i < n && moved < 8; i++) {
    if (!is_special(maps[i].name)) continue;
    uint64_t len = maps[i].end - maps[i].start;
    uint64_t to = scratch + (uint64_t)moved * 0x100000;
    long r = amber_sys5(SYS_mremap, maps[i].start, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to);
    if (r < 0) die("cannot move the vDSO", r);
    moved++;
    maps[i].start = to, maps[i].end = to + len;
  }
  for (int i = 0; i < n; i++) {
    if (!is_special(maps[i].name)) continue;
    uint64_t len = maps[i].end - maps[i].start;
    const struct amber_region_rec *target = 0;
    for (int k = 0; k < hdr.nregions; k++)
      if (regions[k].kind == AMBER_REGION_SPECIAL && !strcmp(regions[k].name, maps[i].name))
        target = &regions[k];
    if (!target) {
      amber_sys2(SYS_munmap, maps[i].start, len);
      continue;
    }
    if (target->end - target->start != len) die("the kernel's vDSO differs from the image's", 0);
    long r = amber_sys5(SYS_mremap, maps[i].start, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
                        target->start);
    if (r < 0) die("cannot move the vDSO into place", r);
  }
}

/* The same file (device as the maps file writes it, inode), or a copy with the same size and
 * modification time. */
static int same_mapped_file(int fd, const struct amber_region_rec *r) {
  struct stat st;
  if (amber_sys2(SYS_fstat, fd, &st) < 0) return 0;
  uint64_t major = (st.st_dev >> 8) & 0xfff, minor = (st.st_dev & 0xff) | ((st.st_dev >> 12) & 0xfff00);
  if (((major << 8) | minor) == r->dev && st.st_ino == r->ino) return 1;
  return st.st_size == r->file_size &&
         st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec == r->file_mtime_ns;
}

static void map_region(const struct amber_region_rec *r) {
  uint64_t len = r->end - r->start;
  long addr;
  int fd;
  if (region_kept(r)) { /* the parent's, still shared: only made writable to be filled */
    addr = amber_sys3(SYS_mprotect, r->start, len, PROT_READ | PROT_WRITE);
    if (addr < 0) die("cannot make a region kept from the parent writable", addr);
    return;
  }
  switch (r->kind) {
  case AMBER_REGION_ANON:
    /* Memory the program cannot write was never charged to it (nor reserved memory): a
     * reservation of terabytes maps back as it was made, for nothing. */
    addr = amber_sys6(SYS_mmap, r->start, len, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED |
                          (r->flags & AMBER_REGION_GROWSDOWN ? MAP_GROWSDOWN : 0) |
                          (r->prot & PROT_WRITE && !(r->vm_flags & AMBER_VM_NORESERVE)
                               ? 0
                               : MAP_NORESERVE),
                      -1, 0);
    break;
  case AMBER_REGION_ANON_SHARED:
    addr = map_shared_region((int)(r - regions));
    break;
  case AMBER_REGION_FILE:
  case AMBER_REGION_FILE_SHARED: {
    int shared = r->kind == AMBER_REGION_FILE_SHARED;
    /* A shared mapping of a file opened for writing may be made writable (mprotect) later. */
    int rw = shared && (r->prot & PROT_WRITE || r->vm_flags & AMBER_VM_MAYWRITE);
    fd = (int)open_as_process(r->name, rw ? O_RDWR : O_RDONLY);
    if (fd < 0) die_about("cannot open a file the program had mapped:", r->name, fd);
    if (shared && !same_mapped_file(fd, r))
      die_about("a file the program had mapped shared was replaced since the snapshot:", r->name,
                0);
    if (!shared) {
      struct stat st;
      long e = amber_sys2(SYS_fstat, fd, &st);
      if (e < 0 || st.st_size != r->file_size ||
          st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec != r->file_mtime_ns)
        die_about("a file the program had mapped changed since the snapshot:", r->name, 0);
    }
    addr = amber_sys6(SYS_mmap, r->start, len, shared ? r->prot : PROT_READ | PROT_WRITE,
                      (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED, fd, r->pgoff);
    amber_sys1(SYS_close, fd);
    break;
  }
  case AMBER_REGION_TABLES:
    addr = amber_sys6(SYS_mmap, r->start, len, r->prot, MAP_SHARED | MAP_FIXED, tables_fd, 0);
    break;
  default:
    return;
  }
  if (addr < 0 && addr > -4096) die("cannot map a memory region back", addr);
}

void attach_sysv_segments(void) {
  const struct amber_table *t = 0;
  for (int i = 0; i < hdr.nregions; i++)
    if (regions[i].kind == AMBER_REGION_TABLES) t = (const struct amber_table *)regions[i].start;
  for (int i = 0; i < hdr.nregions; i++) {
    const struct amber_region_rec *r = &regions[i];
    if (r->kind != AMBER_REGION_SYSV_SHM) continue;
    int64_t slot = (int64_t)r->shmid - AMBER_VIPC_BASE;
    if (!t || slot < 0 || slot >= AMBER_TABLE_ROWS || t->rows[AMBER_KIND_SHM][slot].state != AMBER_ROW_LIVE ||
        t->rows[AMBER_KIND_SHM][slot].sid < 0)
      die("a SysV segment of the image was not re-created", 0);
    long addr = amber_sys3(SYS_shmat, t->rows[AMBER_KIND_SHM][slot].sid, r->start,
                           SHM_REMAP | (r->prot & PROT_WRITE ? 0 : SHM_RDONLY));
    if (addr < 0 && addr > -4096) die("cannot attach a SysV segment", addr);
  }
}

static int chain_fds[AMBER_MAX_DEPTH] = {[0 ... AMBER_MAX_DEPTH - 1] = -1};
static uint64_t chain_sizes[AMBER_MAX_DEPTH]; /* each file's size, to check runs against */
static char parent_of[AMBER_MAX_DEPTH][512]; /* the image each of those names as its parent */

static int image_fd(uint32_t depth);

/* The path of process vpid's file in the image `depth` up the chain of parents (0: this one). */
static void chain_path(char *path, size_t cap, uint32_t depth, int32_t vpid) {
  if (depth >= AMBER_MAX_DEPTH) die("an image refers to a parent too far up", 0);
  const char *dir = image_dir;
  if (depth > 0) {
    image_fd(depth - 1);
    dir = parent_of[depth - 1];
    if (!dir[0]) die("an image refers to pages of a parent it does not name", 0);
  }
  rt_copy(path, dir, cap);
  rt_append(path, cap, "/" AMBER_PROC_FILE_PREFIX);
  rt_append_num(path, cap, vpid, 10);
  rt_append(path, cap, AMBER_PROC_FILE_SUFFIX);
}

/* The process file `depth` images up the chain of parents (0: this image's own). */
static int image_fd(uint32_t depth) {
  int *fds = chain_fds;
  static struct amber_proc_header up;
  if (depth < AMBER_MAX_DEPTH && fds[depth] >= 0) return fds[depth];
  char path[4200];
  chain_path(path, sizeof path, depth, hdr.vpid);
  int fd = open_process_file(path, &chain_sizes[depth]);
  if (rt_pread_all(fd, &up, sizeof up, 0) || amber_image_header_problem(&up, chain_sizes[depth]) ||
      up.vpid != hdr.vpid)
    die_about("not a complete process file of this process:", path, 0);
  rt_copy(parent_of[depth], up.parent_dir, sizeof parent_of[depth]);
  return fds[depth] = fd;
}

/* Another process's file that this one's runs refer to (a page stored once, in its parent's
 * file: ctl_share_pages.c), `depth` images up; a few kept open while the pages are read. */
static struct { uint32_t depth; int32_t vpid; int fd; uint64_t size; } others[8];
static int nothers, next_other;

static void __attribute__((noreturn)) bad_reference(int32_t vpid, const char *why) {
  char msg[200] = AMBER_PROC_FILE_PREFIX;
  rt_append_num(msg, sizeof msg, hdr.vpid, 10);
  rt_append(msg, sizeof msg, AMBER_PROC_FILE_SUFFIX " refers to pages stored in " AMBER_PROC_FILE_PREFIX);
  rt_append_num(msg, sizeof msg, vpid, 10);
  rt_append(msg, sizeof msg, AMBER_PROC_FILE_SUFFIX ", which ");
  rt_append(msg, sizeof msg, why);
  die(msg, 0);
}

static int other_fd(uint32_t depth, int32_t vpid, uint64_t *size) {
  for (int i = 0; i < nothers; i++)
    if (others[i].depth == depth && others[i].vpid == vpid) return *size = others[i].size, others[i].fd;
  char path[4200];
  chain_path(path, sizeof path, depth, vpid);
  int fd = (int)open_image_file(path);
  if (fd < 0) bad_reference(vpid, "is missing");
  static struct amber_proc_header up;
  struct stat st;
  if (amber_sys2(SYS_fstat, fd, &st) || !S_ISREG(st.st_mode) ||
      rt_pread_all(fd, &up, sizeof up, 0) || amber_image_header_problem(&up, st.st_size) ||
      up.vpid != vpid)
    bad_reference(vpid, "is not a complete process file of that process");
  int slot = nothers;
  if (nothers < 8) nothers++;
  else amber_sys1(SYS_close, others[slot = next_other++ % 8].fd); /* the oldest goes */
  others[slot].depth = depth, others[slot].vpid = vpid, others[slot].fd = fd;
  others[slot].size = *size = (uint64_t)st.st_size;
  return fd;
}

static void close_others(void) {
  for (int i = 0; i < nothers; i++) amber_sys1(SYS_close, others[i].fd);
  nothers = next_other = 0;
}

/* The process file a run's pages are in, checked to hold them. */
int run_fd(const struct amber_run_rec *run) {
  if (run->vpid && run->vpid != hdr.vpid) {
    uint64_t size;
    int fd = other_fd(run->depth, run->vpid, &size);
    if (!amber_image_fits(run->data_off, run->npages, AMBER_PAGE, size))
      bad_reference(run->vpid, "does not hold them (truncated or corrupt)");
    return fd;
  }
  int fd = image_fd(run->depth);
  if (!amber_image_fits(run->data_off, run->npages, AMBER_PAGE, chain_sizes[run->depth]))
    die_about("a run of pages lies outside the process file (truncated or corrupt) of", image_dir, 0);
  return fd;
}

/* Saved pages are read in; or, lazily, the private anonymous ones are mapped straight from the
 * image (its pages are page-aligned for that), and come in from the page cache or the disk
 * when the program first touches them. Pages an incremental image did not save come from the
 * image up its chain of parents that did. */
void fill_pages(int lazy) {
  for (int i = 0; i < hdr.nregions; i++) {
    const struct amber_region_rec *r = &regions[i];
    int map = lazy && r->kind == AMBER_REGION_ANON && !(r->flags & AMBER_REGION_GROWSDOWN);
    if ((uint64_t)r->first_run + r->nruns > (uint64_t)hdr.nruns)
      die("a region of the process file refers to runs it does not have", 0);
    if (r->vm_flags & (AMBER_VM_HUGEPAGE | AMBER_VM_NOHUGEPAGE))
      amber_vm_flags_apply(r->start, r->end - r->start,
                           r->vm_flags & (AMBER_VM_HUGEPAGE | AMBER_VM_NOHUGEPAGE));
    if (hdr.npacked) fill_packed(i, image_fd(0), region_kept(r));
    if (region_kept(r) && fill_kept(i)) continue; /* inherit.c: what is still shared stays */
    for (uint32_t k = 0; k < r->nruns; k++) {
      const struct amber_run_rec *run = &runs[r->first_run + k];
      uint64_t len = run->npages * AMBER_PAGE;
      int fd = run_fd(run);
      if (map) {
        long addr = amber_sys6(SYS_mmap, run->addr, len, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_FIXED, fd, run->data_off);
        if (addr < 0 && addr > -4096) die("cannot map saved pages from the image", addr);
      } else {
        /* Private memory is faulted in at once, in the kernel, before it is read into (as huge
         * pages where the program asked for them: its madvise state is put back first); a short
         * run is not worth the extra call. */
        if (r->kind == AMBER_REGION_ANON && run->npages >= 16)
          amber_sys3(SYS_madvise, run->addr, len, 23 /* MADV_POPULATE_WRITE */);
        read_checked(fd, (int)(r->first_run + k)); /* each page against its hash */
      }
    }
  }
  packed_all_filled();
  for (uint32_t d = 0; d < AMBER_MAX_DEPTH; d++) { /* lazy mappings keep their own references */
    if (chain_fds[d] >= 0) amber_sys1(SYS_close, chain_fds[d]);
    chain_fds[d] = -1; /* a child this restorer forks reads its own files */
  }
  close_others();
  for (int i = 0; i < hdr.nregions; i++) {
    const struct amber_region_rec *r = &regions[i];
    if (r->kind == AMBER_REGION_ANON || r->kind == AMBER_REGION_ANON_SHARED ||
        r->kind == AMBER_REGION_FILE)
      amber_sys3(SYS_mprotect, r->start, r->end - r->start, r->prot);
    /* The madvise state, last: a lazy restore made new mappings of the image over the region.
     * (Shared memory gets it again when the agent maps it on its file.) */
    if (r->kind != AMBER_REGION_ANON && r->kind != AMBER_REGION_FILE &&
        r->kind != AMBER_REGION_FILE_SHARED)
      continue;
    long err = amber_vm_flags_apply(r->start, r->end - r->start, r->vm_flags);
    if (err && !(lazy && r->kind == AMBER_REGION_ANON))
      die_about("cannot put back the madvise state of a region:", r->name, err);
  }
}

void map_regions(void) {
  /* The tables first: the SysV segments are found through them. */
  for (int i = 0; i < hdr.nregions; i++)
    if (regions[i].kind == AMBER_REGION_TABLES) map_region(&regions[i]);
  for (int i = 0; i < hdr.nregions; i++)
    if (regions[i].kind != AMBER_REGION_TABLES) map_region(&regions[i]);
  for (int i = 0; i < hdr.nregions; i++)
    if (region_fds[i] >= 0) amber_sys1(SYS_close, region_fds[i]);
}
