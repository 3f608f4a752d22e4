/* Writing a process's pages: which pages of a region hold data, and where each is stored. Every
 * saved page is hashed (XXH64); with a parent image, a page whose address and hash are the
 * parent's is not written again but referred to, so an incremental image holds only what
 * changed. */
#ifndef AMBER_AGENT_PAGES_H
#define AMBER_AGENT_PAGES_H

#include "agent.h"
#include "agent_sink.h"

struct page_parent; /* the parent's index of this process's pages */

struct page_writer {
  struct amber_sink *sink; /* the process file */
  int pagemap_fd;
  uint64_t data_end; /* next free offset for page data in this file */
  struct amber_run_rec *runs; /* grown as needed */
  int nruns;
  uint64_t max_runs;
  uint64_t *hashes; /* one per page of the runs, in order */
  uint64_t npages, max_pages;
  struct amber_run_rec pending; /* the run being extended */
  const struct page_parent *parent;
  int parent_cursor;
};

/* Reads len bytes at off; 0 or -errno. */
long pages_read_at(int fd, void *buf, uint64_t len, uint64_t off);
/* Loads the parent image's index for this process, if it has one; 0, or -errno. */
int pages_load_parent(const char *parent_dir, int32_t vpid, const struct page_parent **out);
void pages_release_parent(const struct page_parent *parent);
/* A pre-copy's index as the parent (agent_precopy.c): its pages are in this image's own file,
 * so a page taken from it is a run of depth 0 at its offset. Its hashes are read in by
 * `load` (if not 0) at their first use: after the thaw, where the write is deferred. */
int pages_base(const struct amber_run_rec *runs, int nruns, const uint64_t *hashes,
               uint64_t npages, int (*load)(void), const struct page_parent **out);
/* Which arming of dirty-page tracking the parent's memory is the state of; 0 if none. */
uint64_t pages_parent_epoch(const struct page_parent *parent);

/* Before a snapshot's first page. */
void pages_begin(void);
int pages_save_region(struct page_writer *w, struct amber_region_rec *r, int whole);
/* Saves a region whose written pages are known (agent_track.c): dirty, sorted by start. */
struct pm_page_region;
int pages_save_tracked(struct page_writer *w, struct amber_region_rec *r,
                       const struct pm_page_region *dirty, uint64_t ndirty);
int pages_flush(struct page_writer *w);
/* Writes the runs batched so far (before the file's sections after the pages); 0 or -errno. */
int pages_write_batch(struct page_writer *w);
void pages_release(struct page_writer *w);
/* Appends n runs saved by another writer, with their pages' hashes (agent_cow.c). */
int pages_take_runs(struct page_writer *w, const struct amber_run_rec *runs, int n,
                    const uint64_t *hashes);

#endif
