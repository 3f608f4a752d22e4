/* Checks of a process file read from an image, which is untrusted input: every count within
 * its limit, every table and every run of saved pages inside the file, every name ended. The
 * restorer and the control library both check before they use a record. No libc: each check
 * returns NULL, or what is wrong. */
#ifndef AMBER_IMAGE_CHECK_H
#define AMBER_IMAGE_CHECK_H

/* image.h must come first: these checks read its records. */

#define AMBER_IMAGE_MAX_THREADS 256
/* No cap a real program meets (a JVM maps tens of thousands of regions): only what keeps the
 * sizes below from overflowing. The tables must also fit in the file. */
#define AMBER_IMAGE_MAX_REGIONS (1 << 26)
#define AMBER_IMAGE_MAX_RUNS (1 << 28)
#define AMBER_IMAGE_MAX_FDS 4096
#define AMBER_IMAGE_MAX_PACKED (1 << 24)

static inline int amber_image_ends(const char *s, unsigned long cap) {
  for (unsigned long i = 0; i < cap; i++)
    if (!s[i]) return 1;
  return 0;
}

/* Do count records of size bytes from off lie inside a file of file_size bytes? */
static inline int amber_image_fits(uint64_t off, uint64_t count, uint64_t size,
                                   uint64_t file_size) {
  if (count && size > ~0ULL / count) return 0;
  return off <= file_size && count * size <= file_size - off;
}

static inline const char *amber_image_header_problem(const struct amber_proc_header *h,
                                                     uint64_t file_size) {
  if (!amber_proc_header_ok(h))
    return "it is not a complete Amber process file";
  /* A pre-copy round's file has pages but no threads (ctl_predump.c). */
  if (h->nthreads < 0 || h->nthreads > AMBER_IMAGE_MAX_THREADS || h->nregions < 0 ||
      h->nregions > AMBER_IMAGE_MAX_REGIONS || h->nruns < 0 || h->nruns > AMBER_IMAGE_MAX_RUNS ||
      h->nfds < 0 || h->nfds > AMBER_IMAGE_MAX_FDS)
    return "its counts are out of range";
  if (!amber_image_fits(h->threads_off, h->nthreads, sizeof(struct amber_thread_rec), file_size) ||
      !amber_image_fits(h->regions_off, h->nregions, sizeof(struct amber_region_rec), file_size) ||
      !amber_image_fits(h->runs_off, h->nruns, sizeof(struct amber_run_rec), file_size) ||
      !amber_image_fits(h->fds_off, h->nfds, sizeof(struct amber_fd_rec), file_size) ||
      !amber_image_fits(h->hashes_off, h->npages, 8, file_size) ||
      !amber_image_fits(h->data_off, h->data_len, 1, file_size) ||
      !amber_image_fits(h->locks_off, h->nlocks, sizeof(struct amber_lock_rec), file_size) ||
      !amber_image_fits(h->packed_off, h->packed_len, 1, file_size))
    return "its tables lie outside the file (truncated or corrupt)";
  if (h->npacked < 0 || h->npacked > AMBER_IMAGE_MAX_PACKED ||
      (uint64_t)h->npacked * sizeof(struct amber_packed_rec) > h->packed_len)
    return "its packed pages lie outside their section";
  if (!amber_image_ends(h->comm, sizeof h->comm) || !amber_image_ends(h->exe, sizeof h->exe) ||
      !amber_image_ends(h->parent_dir, sizeof h->parent_dir))
    return "a name in its header does not end";
  return 0;
}

static inline const char *amber_image_region_problem(const struct amber_region_rec *r,
                                                     const struct amber_proc_header *h) {
  if ((uint64_t)r->first_run + r->nruns > (uint64_t)h->nruns)
    return "a region's runs of pages lie outside their table";
  if (r->end < r->start || ((r->start | r->end) & (AMBER_PAGE - 1)))
    return "a region's addresses are out of order";
  if (!amber_image_ends(r->name, sizeof r->name)) return "a region's name does not end";
  return 0;
}

/* A run of region r; one of depth 0 and no other process's (vpid) is read from this file, of
 * file_size bytes. */
static inline const char *amber_image_run_problem(const struct amber_run_rec *run,
                                                  const struct amber_region_rec *r,
                                                  uint64_t file_size) {
  if (run->depth >= AMBER_MAX_DEPTH) return "a run of pages refers too far up its parents";
  if ((run->addr & (AMBER_PAGE - 1)) || run->addr < r->start || run->addr > r->end ||
      run->npages > (r->end - run->addr) / AMBER_PAGE)
    return "a run of pages lies outside its region";
  if (run->vpid < 0) return "a run of pages refers to another process's file by a bad pid";
  if (run->depth == 0 && !run->vpid && !amber_image_fits(run->data_off, run->npages, AMBER_PAGE, file_size))
    return "a run of pages lies outside the file (truncated or corrupt)";
  return 0;
}

/* A packed page of a file whose header h passed amber_image_header_problem, after `prev` (its
 * address is above the one before: 0 for the first). */
static inline const char *amber_image_packed_problem(const struct amber_packed_rec *p,
                                                     uint64_t prev,
                                                     const struct amber_proc_header *h) {
  uint64_t records = (uint64_t)h->npacked * sizeof(struct amber_packed_rec);
  if ((p->addr & (AMBER_PAGE - 1)) || (prev && p->addr <= prev))
    return "its packed pages are out of order";
  if (p->len > AMBER_PAGE || p->off < records || p->off > h->packed_len ||
      p->len > h->packed_len - p->off)
    return "a packed page lies outside its section";
  return 0;
}

#endif
