/* A pre-copy's part at the freeze (common/precopy.h): the coordinator copied this process's
 * pages into DIR/precopy-<vpid>.data while it ran, write-protected first. The agent takes
 * that file as its process file and its index as the parent of this image at depth 0: a page
 * present and not written since is the pre-copy's, at its offset in this very file; a page
 * written since, or of a region the pre-copy did not arm, is saved as without it
 * (agent_track.c finds which, agent_pages.c saves them). The VmFlags of each region come from
 * the pre-copy's read of smaps, which walked the page tables while the program ran: read at
 * the freeze they would cost some 50 ms per GiB. Runs in the handler: raw system calls. */
#include <fcntl.h>
#include <sys/mman.h>

#include "../../common/precopy.h"
#include "../../common/vm_flags.h"
#include "agent.h"
#include "agent_file.h"
#include "agent_pages.h"
#include "agent_precopy.h"
#include "agent_track.h"

static struct amber_precopy_header header;
static struct amber_precopy_range *ranges;
static uint64_t map_bytes;
static void *map;
static char index_path[AMBER_CTL_PATH + 64];

/* The page hashes, 8 bytes a page: read at their first use (agent_pages.c), which is after the
 * thaw where the write is deferred (agent_defer.h); the index goes once they are in. */
static int load_hashes(void) {
  uint64_t before = sizeof header + (uint64_t)header.nranges * sizeof *ranges +
                    (uint64_t)header.nruns * sizeof(struct amber_run_rec);
  int fd = (int)amber_sys3(SYS_openat, AT_FDCWD, index_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fd;
  long err = pages_read_at(fd, (char *)map + before - sizeof header, header.npages * 8, before);
  amber_sys1(SYS_close, fd);
  if (!err) amber_sys3(SYS_unlinkat, AT_FDCWD, index_path, 0);
  return (int)err;
}

void amber_precopy_release(void) {
  if (map) amber_sys2(SYS_munmap, map, map_bytes);
  map = 0, ranges = 0, map_bytes = 0;
}

void amber_precopy_forget(void) { map = 0, ranges = 0, map_bytes = 0; }

/* Removes the pre-copy's files (an image holds neither). */
static void drop_files(const char *dir) {
  char path[AMBER_CTL_PATH + 64];
  amber_fmt(path, sizeof path, AMBER_PRECOPY_INDEX_FMT, dir, amber.vpid);
  amber_sys3(SYS_unlinkat, AT_FDCWD, path, 0);
  amber_fmt(path, sizeof path, AMBER_PRECOPY_DATA_FMT, dir, amber.vpid);
  amber_sys3(SYS_unlinkat, AT_FDCWD, path, 0);
}

/* Are the runs' pages of this file within the data written? (That there is a hash for each
 * page, pages_base checks.) Otherwise the pre-copy is not used. */
static int runs_within_data(const struct amber_run_rec *runs, uint32_t nruns) {
  for (uint32_t i = 0; i < nruns; i++)
    if (!runs[i].depth && runs[i].data_off + runs[i].npages * AMBER_PAGE > header.data_end)
      return 0;
  return 1;
}

int amber_precopy_take(const char *dir, const char *path, const struct page_parent **base,
                       uint64_t *data_end) {
  amber_precopy_release();
  if (!(amber.table->ctl.flags & AMBER_SNAPSHOT_PRECOPIED)) return 0;
  char *index = index_path, data[AMBER_CTL_PATH + 64];
  amber_fmt(index, sizeof index_path, AMBER_PRECOPY_INDEX_FMT, dir, amber.vpid);
  amber_fmt(data, sizeof data, AMBER_PRECOPY_DATA_FMT, dir, amber.vpid);
  int fd = (int)amber_sys3(SYS_openat, AT_FDCWD, index, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0; /* not pre-copied: written as without */
  long err = pages_read_at(fd, &header, sizeof header, 0);
  if (!err && (header.magic != AMBER_PRECOPY_MAGIC || header.vpid != amber.vpid)) err = -EPROTO;
  uint64_t ranges_bytes = (uint64_t)header.nranges * sizeof *ranges;
  uint64_t runs_bytes = (uint64_t)header.nruns * sizeof(struct amber_run_rec);
  map_bytes = ranges_bytes + runs_bytes + header.npages * 8;
  if (!err) {
    long addr = amber_sys6(SYS_mmap, 0, map_bytes ? map_bytes : 1, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (addr < 0 && addr > -4096) err = addr;
    else map = (void *)addr;
  }
  if (!err) err = pages_read_at(fd, map, ranges_bytes + runs_bytes, sizeof header);
  amber_sys1(SYS_close, fd);
  ranges = map;
  const struct amber_run_rec *runs = (const void *)((char *)map + ranges_bytes);
  const uint64_t *hashes = (const void *)((const char *)runs + runs_bytes);
  if (!err && !runs_within_data(runs, header.nruns)) err = -EPROTO;
  if (!err) err = pages_base(runs, (int)header.nruns, hashes, header.npages, load_hashes, base);
  /* Its file is this process's file from here on, written on after the pre-copy's pages. */
  if (!err) err = amber_sys4(SYS_renameat, AT_FDCWD, data, AT_FDCWD, path);
  if (err) {
    if (*base) pages_release_parent(*base);
    *base = 0;
    amber_precopy_release();
    drop_files(dir);
    return 0; /* written as without */
  }
  *data_end = header.data_end; /* the index stays until its hashes are read */
  return 1;
}

uint64_t amber_precopy_pages(void) { return ranges ? header.npages : 0; }

int amber_precopy_refers_up(void) {
  const struct amber_run_rec *runs = (const void *)(ranges + header.nranges);
  for (uint32_t i = 0; ranges && i < header.nruns; i++)
    if (runs[i].depth) return 1;
  return 0;
}

uint64_t amber_precopy_track(void) {
  return ranges ? amber_track_precopied(ranges, header.nranges, header.track_fd) : 0;
}

/* The range of the pre-copy's map that holds addr, or 0. */
static const struct amber_precopy_range *range_at(uint64_t addr) {
  int lo = 0, hi = (int)header.nranges;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (ranges[mid].start <= addr) lo = mid + 1;
    else hi = mid;
  }
  return lo > 0 && addr < ranges[lo - 1].end ? &ranges[lo - 1] : 0;
}

int amber_precopy_flags(void *own_list) {
  if (!ranges) return 0;
  int known = 1;
  for (int i = 0; i < amber_file_regions(); i++) {
    struct amber_region_rec *r = amber_file_region(i);
    const struct amber_precopy_range *p = range_at(r->start);
    if (!p) p = range_at(r->end - 1); /* grown down (a stack) */
    /* The pre-copy registered what it armed on this agent's userfaultfd: no program's. */
    if (p) r->vm_flags = p->vm_flags & ~(p->flags & AMBER_PRECOPY_ARMED ? AMBER_VM_UFFD : 0);
    else if (r->start <= (uint64_t)own_list && (uint64_t)own_list < r->end) r->vm_flags = 0;
    else known = 0; /* mapped since: its flags are not known */
    if (r->vm_flags & AMBER_VM_GROWSDOWN) r->flags |= AMBER_REGION_GROWSDOWN;
  }
  return known;
}
