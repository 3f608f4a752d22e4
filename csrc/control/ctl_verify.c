/* Checksums of an image's files for the manifest and for a restore. A process file's pages are
 * checked by the restorer as it reads them (each against its XXH64 in the file's table of page
 * hashes), so a restore need not read them twice: the manifest also holds the hash of the rest
 * of a process file (its "meta" hash: header, threads, regions, runs, descriptors, page hashes,
 * locks; everything but the page data), which is all a restore checks up front; and the hash of
 * that rest less the table of page hashes (its "head" hash), which is all a lazy restore checks
 * up front: it maps the table unread, and each entry is checked against its page as the page is
 * (src/image.ts, csrc/supervisor/lazy_check.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../common/hash.h"
#include "../common/image.h"
#include "control.h"
#include "files.h"

#define API __attribute__((visibility("default")))

/* The page data of a process file, [*from, *to), and its table of page hashes, [*t0, *t1) (past
 * the data; empty if the header says otherwise); 0 if it is not one (no data to skip). */
static int page_data(int fd, uint64_t *from, uint64_t *to, uint64_t *t0, uint64_t *t1) {
  struct amber_proc_header h;
  if (pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h || !amber_proc_header_ok(&h) ||
      h.data_off < sizeof h || h.data_off + h.data_len < h.data_off)
    return 0;
  *from = h.data_off, *to = h.data_off + h.data_len;
  int table = h.hashes_off >= *to && h.npages <= (UINT64_MAX - h.hashes_off) / 8;
  *t0 = table ? h.hashes_off : *to, *t1 = table ? h.hashes_off + h.npages * 8 : *to;
  return 1;
}

/* Hashes [off, end) of fd (end UINT64_MAX: to the end of the file) into the hashes given. */
static int hash_range(int fd, char *chunk, size_t cap, uint64_t off, uint64_t end,
                      struct amber_hash *a, struct amber_hash *b, struct amber_hash *c) {
  while (off < end) {
    size_t want = end - off < cap ? (size_t)(end - off) : cap;
    ssize_t n = pread(fd, chunk, want, (off_t)off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    if (n == 0) return 0;
    if (a) amber_hash_update(a, chunk, (size_t)n);
    if (b) amber_hash_update(b, chunk, (size_t)n);
    if (c) amber_hash_update(c, chunk, (size_t)n);
    off += (uint64_t)n;
  }
  return 0;
}

API int32_t amber_ctl_file_hashes(const char *path, int32_t whole, char *buf, int32_t cap) {
  if (cap < 51) return -ENOSPC;
  int fd = amber_open_regular(path, O_RDONLY); /* an image file that is a FIFO never hangs */
  if (fd < 0) return fd;
  enum { CHUNK = 1 << 20 };
  char *chunk = malloc(CHUNK);
  if (!chunk) {
    close(fd);
    return -ENOMEM;
  }
  struct amber_hash full, meta, head;
  amber_hash_init(&full);
  amber_hash_init(&meta);
  amber_hash_init(&head);
  uint64_t from = 0, to = 0, t0 = 0, t1 = 0;
  int process = page_data(fd, &from, &to, &t0, &t1);
  /* whole 2: the head hash alone, the table of page hashes unread (a lazy restore's check). */
  int head_only = whole == 2;
  if (head_only) whole = 0;
  struct amber_hash *f = whole ? &full : 0, *m = process && !head_only ? &meta : 0;
  struct amber_hash *h = process ? &head : 0;
  int err;
  if (!process) {
    err = f ? hash_range(fd, chunk, CHUNK, 0, UINT64_MAX, f, 0, 0) : 0;
  } else {
    err = hash_range(fd, chunk, CHUNK, 0, from, f, m, h);
    if (!err && whole) err = hash_range(fd, chunk, CHUNK, from, to, f, 0, 0);
    if (!err) err = hash_range(fd, chunk, CHUNK, to, t0, f, m, h);
    if (!err && (f || m)) err = hash_range(fd, chunk, CHUNK, t0, t1, f, m, 0);
    if (!err) err = hash_range(fd, chunk, CHUNK, t1, UINT64_MAX, f, m, h);
  }
  free(chunk);
  close(fd);
  if (err) return err;
  int n = snprintf(buf, cap, "%016llx ", whole ? (unsigned long long)amber_hash_final(&full) : 0ULL);
  if (process)
    n += snprintf(buf + n, cap - n, "%016llx %016llx",
                  head_only ? 0ULL : (unsigned long long)amber_hash_final(&meta),
                  (unsigned long long)amber_hash_final(&head));
  return n;
}
