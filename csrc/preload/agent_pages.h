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
  uint64_t agent[6]; /* memory the agent changes as it writes: pages_agent_memory */
};

/* Notes the memory the agent changes while it writes (this library's data, its stack, and the
 * list of regions at `list`), whose pages are copied before they are hashed and written. */
void pages_agent_memory(struct page_writer *w, uint64_t list, uint64_t list_bytes);

/* Loads the parent image's index for this process, if it has one; 0, or -errno. */
int pages_load_parent(const char *parent_dir, int32_t vpid, const struct page_parent **out);
void pages_release_parent(const struct page_parent *parent);

int pages_save_region(struct page_writer *w, struct amber_region_rec *r, int whole);
int pages_flush(struct page_writer *w);
/* Writes the runs batched so far (before the file's sections after the pages); 0 or -errno. */
int pages_write_batch(struct page_writer *w);
void pages_release(struct page_writer *w);
/* Appends n runs saved by another writer, with their pages' hashes (agent_cow.c). */
int pages_take_runs(struct page_writer *w, const struct amber_run_rec *runs, int n,
                    const uint64_t *hashes);

#endif
