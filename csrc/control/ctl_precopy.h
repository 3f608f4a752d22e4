/* A pre-copy's state while it copies one process (ctl_precopy.c), shared with the pre-copy of
 * an incremental image (ctl_precopy_incr.c), which copies only what changed since its parent. */
#ifndef AMBER_CTL_PRECOPY_H
#define AMBER_CTL_PRECOPY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../common/image.h"
#include "../common/precopy.h"
#include "../common/table.h"

struct precopy_incr; /* ctl_precopy_incr.c */

struct direct_writer; /* direct_writer.h */
struct precopy {
  int uffd, pagemap, mem, maps;
  struct direct_writer *out;
  int write_err; /* a write failed: the pre-copy fails, whatever range it was in */
  pid_t pid;
  uint64_t data_end;
  struct amber_precopy_range *ranges;
  size_t nranges, ranges_cap;
  struct amber_run_rec *runs;
  size_t nruns, runs_cap;
  uint64_t *hashes;
  size_t npages, hashes_cap;
  /* An incremental pre-copy's (ctl_precopy_incr.c): its buffer, and the data file opened
   * through the page cache, since it writes a few scattered pages, page by page: O_DIRECT
   * would make each a wait for the disk (2650 pages of 1 GiB took 250 ms). */
  uint8_t *buf;
  int plain_out;
  struct precopy_incr *incr; /* with a parent image, else NULL */
};

#define PRECOPY_BATCH 256 /* pages read from the process at once: DW_BYTES (direct_writer.h) */

/* ctl_precopy.c */
int32_t precopy_run(void *table, int32_t vpid, const char *dir, const char *parent_dir,
                    int32_t sync);
int precopy_grow(void **p, size_t *cap, size_t elem, size_t first);
int precopy_pwrite_all(int fd, const void *buf, size_t n, off_t off);
/* Registers range r, clears its stale bits and protects its pages that hold data; 0 or -errno. */
int precopy_arm(struct precopy *d, struct amber_precopy_range *r);
int precopy_zero_page(const uint8_t *p);
/* Adds a page to the index: at off in the data file (depth 0), or up the parent's chain. */
int precopy_add(struct precopy *d, uint64_t addr, uint64_t hash, uint32_t depth, int32_t vpid,
                uint64_t off);
/* Is r one mapping now, as smaps said (PROCMAP_QUERY)? A registration splits a mapping at the
 * range's ends, and the program's mremap of the mapping it made would then fail. */
int precopy_one_mapping(struct precopy *d, const struct amber_precopy_range *r);
/* Copies the pages of armed range r that hold data worth saving, as the agent judges them. */
int precopy_copy_range(struct precopy *d, const struct amber_precopy_range *r);

/* ctl_precopy_incr.c. Once the process's map is read, before anything is armed: its tracking
 * is no longer intact (table's dirty_epoch); with a parent image, loads the parent's index of
 * the process and decides, for each range, whether its written pages come from dirty-page
 * tracking or from hashing every page (d->incr). 0 or -errno. */
int precopy_incr_begin(struct precopy *d, struct amber_table *t, int32_t vpid,
                       const char *parent_dir);
/* Arms range r, as arm() does for a range hashed, or by taking its written pages (protected
 * again in the same pass) for a tracked one; 0 or -errno. */
int precopy_incr_arm(struct precopy *d, struct amber_precopy_range *r);
/* Reads the pages [from, to) and adds each: the parent's if the same, none if zeros (of
 * anonymous memory), else copied. 0, or -errno (-EFAULT: not all could be read). */
int precopy_incr_span(struct precopy *d, uint64_t from, uint64_t to, int file);
/* Copies what changed in range r since the parent; 0 or -errno. */
int precopy_incr_copy(struct precopy *d, const struct amber_precopy_range *r);
/* Before the index is written: d->runs and d->hashes become the whole memory as the image will
 * hold it: what was copied, and the parent's pages for the rest. 0 or -errno. */
int precopy_incr_finish(struct precopy *d);
void precopy_incr_free(struct precopy *d);

#endif
