/* Pages saved packed (common/packed_page.h, ctl_share_pages.c): each is unpacked, checked
 * against its hash and written whole into its region as the region is filled, before its runs,
 * in a lazy restore too (they are few: the pages of a file whose pages are many are not packed).
 * A page kept from the parent (inherit.c) is written only if it differs, and is not dropped as
 * a page the image does not hold. */
#include <sys/mman.h>

#include "../common/hash.h"
#include "../common/packed_page.h"
#include "restorer.h"

struct amber_packed_rec *packed;
static int32_t next; /* the first packed page not written yet */

/* A piece of the packed section, read as the pages are written, in order. */
static uint8_t piece[64 * 1024];
static uint64_t piece_at, piece_len;

void read_packed(int fd) {
  next = 0;
  piece_len = 0;
  if (rt_pread_all(fd, packed, sizeof *packed * hdr.npacked, hdr.packed_off))
    die_image(image_path, "it is truncated");
  for (int32_t i = 0; i < hdr.npacked; i++) {
    const char *problem = amber_image_packed_problem(&packed[i], i ? packed[i - 1].addr : 0, &hdr);
    if (problem) die_image(image_path, problem);
  }
}

static const uint8_t *packed_bytes(int fd, const struct amber_packed_rec *p) {
  uint64_t from = hdr.packed_off + p->off;
  if (from < piece_at || from + p->len > piece_at + piece_len) {
    uint64_t left = hdr.packed_off + hdr.packed_len - from;
    piece_at = from;
    piece_len = left < sizeof piece ? left : sizeof piece;
    if (rt_pread_all(fd, piece, piece_len, from)) die("cannot read packed pages", 0);
  }
  return piece + (from - piece_at);
}

static void __attribute__((noreturn)) misplaced(void) {
  die_image(image_path, "a packed page lies outside the private memory it may hold");
}

void fill_packed(int i, int fd, int compare) {
  static uint8_t page[AMBER_PAGE];
  const struct amber_region_rec *r = &regions[i];
  if (next < hdr.npacked && packed[next].addr < r->start) misplaced(); /* between regions */
  for (; next < hdr.npacked && packed[next].addr < r->end; next++) {
    const struct amber_packed_rec *p = &packed[next];
    if (r->kind != AMBER_REGION_ANON && r->kind != AMBER_REGION_FILE) misplaced();
    struct amber_hash h;
    amber_hash_init(&h);
    if (!amber_unpack_page(page, packed_bytes(fd, p), p->len))
      amber_hash_update(&h, page, AMBER_PAGE);
    if (amber_hash_final(&h) != p->hash) damaged(p->addr, 0, 0); /* or not a packed page */
    if (!compare || !same_page((const uint64_t *)p->addr, (const uint64_t *)page))
      memcpy((void *)p->addr, page, AMBER_PAGE);
  }
}

void packed_all_filled(void) {
  if (next < hdr.npacked) misplaced(); /* past the last region */
}

/* Drops [from, to) but for the packed pages in it. */
void drop_but_packed(uint64_t from, uint64_t to) {
  int32_t k = 0, hi = hdr.npacked;
  while (k < hi) { /* the first at or above from */
    int32_t mid = k + (hi - k) / 2;
    if (packed[mid].addr < from) k = mid + 1;
    else hi = mid;
  }
  for (; from < to; k++) {
    uint64_t until = k < hdr.npacked && packed[k].addr < to ? packed[k].addr : to;
    if (until > from) amber_sys3(SYS_madvise, from, until - from, MADV_DONTNEED);
    from = until + AMBER_PAGE;
  }
}
