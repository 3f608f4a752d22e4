/* A file written by a thread of its own, straight to the disk where the file system lets it
 * (O_DIRECT), from a few buffers the caller fills meanwhile: a pre-copy reads and hashes a
 * process's next pages while the last ones are written (control/ctl_precopy.c). Through the page
 * cache, every byte cost a copy into the cache, the cache's pages, and the kernel's writeback
 * after, all on the CPUs the application needs: on the 2-core development machine buffered
 * writes of 6 GiB went at 300-430 MB/s, direct ones at 1.2 GB/s. A file system that refuses
 * O_DIRECT is written through the cache as before. It is not durable until the caller's fdatasync
 * (O_DIRECT goes around the cache, not the disk's own). Not thread-safe: one caller. */
#ifndef AMBER_DIRECT_WRITER_H
#define AMBER_DIRECT_WRITER_H

#include <stdint.h>

#define DW_BYTES (1u << 20) /* one buffer; page-aligned */

struct direct_writer;

/* A piece of a buffer, [from, from + len): whole pages. */
struct dw_piece {
  uint32_t from, len;
};

/* Creates the file at path (mode 0600, not following a link) and starts its writer; 0 or -errno. */
int dw_open(struct direct_writer **out, const char *path);
/* A buffer of DW_BYTES free to fill (waiting for the writer if all are queued); NULL once a
 * write failed (dw_finish says why). */
uint8_t *dw_buffer(struct direct_writer *w);
/* Queues the pieces of the buffer dw_buffer gave last, which follow one another in the file
 * from offset off (none: the buffer stays free). 0, or the error of an earlier write. */
int dw_write(struct direct_writer *w, const struct dw_piece *pieces, int n, uint64_t off);
/* Waits until everything queued is written; 0 or the first error (-errno). */
int dw_finish(struct direct_writer *w);
/* The file's descriptor (for fdatasync after dw_finish). */
int dw_fd(const struct direct_writer *w);
/* Stops the writer (after what it is writing) and closes the file; NULL is nothing. */
void dw_close(struct direct_writer *w);

#endif
