/* Shared memory as one object (agent_shmem.h). Runs on the checkpoint leader in the signal
 * handler, and after a restore: raw system calls only. */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>

#include "../../common/errno_name.h"
#include "../../common/broker.h"
#include "../../common/vm_flags.h"
#include "agent_lines.h"
#include "agent_share.h"
#include "agent_shmem.h"
#include "agent_sink.h"

#define SEEK_DATA_ 3
#define SEEK_HOLE_ 4
/* mincore looks every page up: beyond this a descriptor's SEEK_DATA, which skips holes whole,
 * is faster when the kernel lets us open one (/proc/self/map_files: CAP_CHECKPOINT_RESTORE). */
#define BIG_REGION (1ULL << 30)

static int failed(const char *what, const struct amber_region_rec *r, long err) {
  amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error, "%s %lx-%lx (%s) (%s)", what,
            r->start, r->end, r->name, amber_errno_name(err));
  return err < 0 ? (int)err : -EIO;
}

/* Is any swap space on? Some kernels' mincore reports a shared page in swap only while it is in
 * the swap cache (6.18's reports it anyway). */
static int swap_in_use(void) {
  char text[512];
  long n = amber_read_file("/proc/swaps", text, sizeof text);
  int lines = 0;
  for (long i = 0; i < n; i++) lines += text[i] == '\n';
  return lines > 1; /* the first line is the heading */
}

static int by_seek(int fd, const struct amber_region_rec *r, amber_range_fn fn, void *ctx) {
  uint64_t off = r->pgoff, end = r->pgoff + (r->end - r->start);
  while (off < end) {
    long data = amber_sys3(SYS_lseek, fd, off, SEEK_DATA_);
    if (data == -ENXIO || (data >= 0 && (uint64_t)data >= end)) return 0;
    if (data < 0) return failed("cannot find the data of shared memory", r, data);
    long hole = amber_sys3(SYS_lseek, fd, data, SEEK_HOLE_);
    if (hole < 0) return failed("cannot find the data of shared memory", r, hole);
    uint64_t from = (uint64_t)data & ~(uint64_t)(AMBER_PAGE - 1);
    uint64_t to = ((uint64_t)hole + AMBER_PAGE - 1) & ~(uint64_t)(AMBER_PAGE - 1);
    if (to > end) to = end;
    int err = fn(ctx, r->start + (from - r->pgoff), r->start + (to - r->pgoff));
    if (err) return err;
    off = to;
  }
  return 0;
}

/* For a shared mapping mincore reports the object's pages (its page cache), not this
 * process's page table: a page only another process wrote is there too. */
static int by_mincore(const struct amber_region_rec *r, amber_range_fn fn, void *ctx) {
  static unsigned char vec[1 << 16];
  uint64_t run = 0; /* start of the pending range, 0 if none */
  for (uint64_t addr = r->start; addr < r->end;) {
    uint64_t n = (r->end - addr) / AMBER_PAGE;
    if (n > sizeof vec) n = sizeof vec;
    long e = amber_sys3(SYS_mincore, addr, n * AMBER_PAGE, vec);
    if (e < 0) return failed("cannot find the data of shared memory", r, e);
    for (uint64_t i = 0; i < n; i++, addr += AMBER_PAGE) {
      if ((vec[i] & 1) && !run) run = addr;
      if (!(vec[i] & 1) && run) {
        int err = fn(ctx, run, addr);
        if (err) return err;
        run = 0;
      }
    }
  }
  return run ? fn(ctx, run, r->end) : 0;
}

int amber_shmem_data_ranges(const struct amber_region_rec *r, amber_range_fn fn, void *ctx) {
  /* A page in swap is not in the page cache: asked for, it is read back into the swap cache,
   * where mincore sees it (a hole stays a hole). */
  if (swap_in_use()) amber_sys3(SYS_madvise, r->start, r->end - r->start, MADV_WILLNEED);
  if (r->end - r->start >= BIG_REGION) {
    char path[80];
    amber_fmt(path, sizeof path, "/proc/thread-self/map_files/%lx-%lx", r->start, r->end);
    int fd = (int)amber_sys3(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      int err = by_seek(fd, r, fn, ctx);
      amber_sys1(SYS_close, fd);
      return err;
    }
  }
  return by_mincore(r, fn, ctx);
}

/* Is the object range [from, to) inside what this process maps of object (dev, ino)? */
static int covered(const struct amber_region_rec *regions, int n, uint64_t dev, uint64_t ino,
                   uint64_t from, uint64_t to) {
  for (int found = 1; from < to && found;) {
    found = 0;
    for (int k = 0; k < n; k++) {
      const struct amber_region_rec *m = &regions[k];
      uint64_t end = m->pgoff + (m->end - m->start);
      if (m->kind == AMBER_REGION_ANON_SHARED && m->ino == ino && m->dev == dev &&
          m->pgoff <= from && from < end)
        from = end, found = 1;
    }
  }
  return from >= to;
}

struct cover_check {
  const struct amber_region_rec *regions;
  int n;
  uint64_t dev, ino;
  int32_t vpid;
};

static int check_line(void *ctx, const char *line) {
  struct cover_check *c = ctx;
  struct amber_maps_line m;
  if (amber_parse_maps_line(line, &m) || !m.shared || m.ino != c->ino || m.dev != c->dev) return 0;
  uint64_t from = m.pgoff, to = m.pgoff + (m.end - m.start);
  if (covered(c->regions, c->n, c->dev, c->ino, from, to)) return 0;
  amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
            "process %d maps a part of shared memory (%s, bytes %lx-%lx) that process %d, which "
            "saves it, does not map: Amber cannot save that part",
            c->vpid, m.name, from, to, amber.vpid);
  return -EINVAL;
}

int amber_shmem_check_cover(const struct amber_region_rec *regions, int n, int i) {
  const struct amber_region_rec *r = &regions[i];
  if (r->kind != AMBER_REGION_ANON_SHARED || r->owner_vpid != amber.vpid || !r->ino) return 0;
  for (int k = 0; k < i; k++) /* once per object */
    if (regions[k].kind == AMBER_REGION_ANON_SHARED && regions[k].ino == r->ino &&
        regions[k].dev == r->dev)
      return 0;
  uint64_t size = ((uint64_t)r->file_size + AMBER_PAGE - 1) & ~(uint64_t)(AMBER_PAGE - 1);
  if (r->flags & AMBER_REGION_SHM_FILE && size && !covered(regions, n, r->dev, r->ino, 0, size)) {
    amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
              "process %d maps only a part of the shared memory file %s (%ld bytes): Amber "
              "cannot save the rest", amber.vpid, r->name, (long)r->file_size);
    return -EINVAL;
  }
  struct amber_ctl *ctl = &amber.table->ctl;
  for (uint32_t j = 0; j < ctl->nslots; j++) {
    struct cover_check c = {regions, n, r->dev, r->ino, ctl->slots[j].vpid};
    if (!c.vpid || c.vpid == amber.vpid) continue;
    char path[64];
    amber_fmt(path, sizeof path, "/proc/%d/maps", amber_share_system_pid(c.vpid));
    int err = amber_read_lines(path, check_line, &c);
    if (err == -EINVAL) return err; /* a process gone fails the snapshot elsewhere */
  }
  return 0;
}

struct copy {
  int fd;
  const struct amber_region_rec *r;
};

static int copy_range(void *ctx, uint64_t from, uint64_t to) {
  struct copy *c = ctx;
  return amber_write_at(c->fd, (void *)from, to - from, c->r->pgoff + (from - c->r->start));
}

/* Copies what the restorer read into the owner's region r (on its own memfd, not yet shared)
 * into the object's new file. */
static int copy_region(int fd, const struct amber_region_rec *r) {
  int unreadable = !(r->prot & PROT_READ);
  if (unreadable) amber_sys3(SYS_mprotect, r->start, r->end - r->start, r->prot | PROT_READ);
  struct copy c = {fd, r};
  int err = amber_shmem_data_ranges(r, copy_range, &c);
  if (unreadable) amber_sys3(SYS_mprotect, r->start, r->end - r->start, r->prot);
  return err;
}

/* The name a shared object's memfd gets: a memfd's own ("/memfd:NAME (deleted)"), since the
 * program may hold a descriptor to it too (fd_pathless.c takes this one); "amber-shared" else. */
static const char *memfd_name(const struct amber_region_rec *r, char *out, int cap) {
  if (strncmp(r->name, "/memfd:", 7)) return "amber-shared";
  amber_undeleted_name(r->name, 7, out, cap);
  return out;
}

static int same_object(const struct amber_region_rec *a, const struct amber_region_rec *b) {
  return b->kind == AMBER_REGION_ANON_SHARED && b->ino == a->ino && b->dev == a->dev;
}

/* The owner's first region of an object makes its file from every region of it the owner
 * has, then offers it; the others take it. */
static int object_file(const struct amber_region_rec *regions, int n, int i) {
  const struct amber_region_rec *r = &regions[i];
  uint64_t key = amber_key(AMBER_KEY_SHMEM, r->ino);
  int first = 1;
  for (int k = 0; k < i; k++) first &= !same_object(r, &regions[k]);
  if (r->owner_vpid != amber.vpid || !first) return amber_broker_get(key, 0);
  /* The restorer mapped the owner's regions on a memfd: offered as it is where the kernel lets
   * us open it (CAP_CHECKPOINT_RESTORE), copied into a new one otherwise. */
  char path[300];
  int named = r->flags & AMBER_REGION_SHM_FILE, fd = -1;
  amber_fmt(path, sizeof path, "/proc/thread-self/map_files/%lx-%lx", r->start, r->end);
  if (!named) fd = (int)amber_sys3(SYS_openat, AT_FDCWD, path, O_RDWR | O_CLOEXEC);
  if (fd >= 0) {
    int err = amber_broker_put(key, 0, fd);
    if (err) amber_sys1(SYS_close, fd);
    return err ? err : fd;
  }
  char name[250];
  fd = named ? amber_shm_file_create(r, path, sizeof path)
             : (int)amber_sys2(SYS_memfd_create, memfd_name(r, name, sizeof name),
                               MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) {
    if (named) failed("cannot make the shared memory file again", r, fd);
    return fd;
  }
  uint64_t size = 0;
  for (int k = i; k < n; k++)
    if (same_object(r, &regions[k]) && regions[k].pgoff + (regions[k].end - regions[k].start) > size)
      size = regions[k].pgoff + (regions[k].end - regions[k].start);
  long err = amber_sys2(SYS_ftruncate, fd, size);
  for (int k = i; k < n && !err; k++)
    if (same_object(r, &regions[k])) err = copy_region(fd, &regions[k]);
  if (named && !err) err = amber_shm_file_publish(fd, r, path);
  if (!err) err = amber_broker_put(key, 0, fd);
  if (err) {
    amber_sys1(SYS_close, fd);
    return (int)err;
  }
  return fd;
}

int amber_shmem_share_again(const struct amber_region_rec *regions, int n, int i) {
  const struct amber_region_rec *r = &regions[i];
  int fd = object_file(regions, n, i);
  if (fd < 0) return fd;
  long addr = amber_sys6(SYS_mmap, r->start, r->end - r->start, r->prot, MAP_SHARED | MAP_FIXED,
                         fd, r->pgoff);
  amber_sys1(SYS_close, fd);
  if (addr < 0 && addr > -4096) return (int)addr;
  return (int)amber_vm_flags_apply(r->start, r->end - r->start, r->vm_flags);
}
