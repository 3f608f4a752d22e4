/* The pages of a process file, each against its XXH64 in the file's table of page hashes: what
 * `inspect` checks of a process file whose manifest entry has no whole-file hash (src/image.ts).
 * The table itself, with the rest of the file but its page data, is checked by the entry's meta
 * hash; the snapshot hashed each page as it wrote it, so it need not read the file back to hash
 * it whole before the image has its name. Pages stored in another file (a parent's, or another
 * process's) are checked with that file. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/hash.h"
#include "../common/image.h"
#include "../common/image_check.h"
#include "control.h"
#include "files.h"

#define API __attribute__((visibility("default")))
#define CHUNK (256 * AMBER_PAGE)

/* The runs' pages stored in this file against their hashes: 0, 1 at the first that differs, or
 * -errno (-EPROTO: not a process file, or one whose tables lie outside it). */
static int check_runs(int fd, const struct amber_proc_header *h, uint64_t size) {
  if (amber_image_header_problem(h, size)) return -EPROTO;
  struct amber_run_rec *runs = malloc(h->nruns ? h->nruns * sizeof *runs : 1);
  uint64_t *hashes = malloc(h->npages ? h->npages * 8 : 1);
  uint8_t *chunk = malloc(CHUNK);
  int err = !runs || !hashes || !chunk ? -ENOMEM : 0;
  if (!err) err = amber_read_at(fd, runs, h->nruns * sizeof *runs, h->runs_off);
  if (!err) err = amber_read_at(fd, hashes, h->npages * 8, h->hashes_off);
  uint64_t page = 0; /* the index in hashes of the run's first page */
  for (int32_t i = 0; i < h->nruns && !err; page += runs[i].npages, i++) {
    const struct amber_run_rec *run = &runs[i];
    if (run->npages > h->npages - page) err = -EPROTO;
    if (err || run->depth || run->vpid) continue;
    if (!amber_image_fits(run->data_off, run->npages, AMBER_PAGE, size)) err = -EPROTO;
    for (uint64_t done = 0; !err && done < run->npages;) {
      uint64_t n = run->npages - done < CHUNK / AMBER_PAGE ? run->npages - done : CHUNK / AMBER_PAGE;
      err = amber_read_at(fd, chunk, n * AMBER_PAGE, run->data_off + done * AMBER_PAGE);
      for (uint64_t k = 0; !err && k < n; k++) {
        struct amber_hash ph;
        amber_hash_init(&ph);
        amber_hash_update(&ph, chunk + k * AMBER_PAGE, AMBER_PAGE);
        if (amber_hash_final(&ph) != hashes[page + done + k]) err = 1;
      }
      done += n;
    }
  }
  if (!err && page != h->npages) err = -EPROTO;
  free(runs);
  free(hashes);
  free(chunk);
  return err;
}

API int32_t amber_ctl_check_pages(const char *path) {
  int fd = amber_open_regular(path, O_RDONLY);
  if (fd < 0) return fd;
  struct stat st;
  struct amber_proc_header h;
  int err = fstat(fd, &st) ? -errno : amber_read_at(fd, &h, sizeof h, 0);
  if (!err) err = check_runs(fd, &h, (uint64_t)st.st_size);
  close(fd);
  return err;
}
