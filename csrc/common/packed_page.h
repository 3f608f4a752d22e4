/* A saved page that holds mostly zeros is stored packed rather than whole (image.h,
 * struct amber_packed_rec): as pieces, each a 4-byte head (how many zero bytes come before it,
 * then how many bytes it holds, 16 bits each, little-endian) and its bytes; the zeros after the
 * last piece are left out. A gap of up to PACK_GAP zeros stays inside a piece, where a new head
 * would cost as much. The library's own data, a C library's relocated pages and a stack's top
 * are such pages: a process of 1 GiB of zeros saves some 70 of them, 3/4 zeros.
 * No libc: the restorer decodes them. */
#ifndef AMBER_PACKED_PAGE_H
#define AMBER_PACKED_PAGE_H

#include <stdint.h>

/* A page packs if its pieces take at most this: a quarter of a page saved at least. */
#define AMBER_PACKED_MAX 3072
#define AMBER_PACK_GAP 4

/* How many 8-byte words of the page are zeros. */
static inline uint32_t amber_page_zero_words(const uint8_t *page) {
  uint32_t zeros = 0;
  for (int i = 0; i < 4096; i += 8) {
    uint64_t v;
    __builtin_memcpy(&v, page + i, 8);
    zeros += v == 0;
  }
  return zeros;
}

/* The page packed into out (AMBER_PACKED_MAX bytes): its length, or -1 if it takes more. A page
 * with fewer than an eighth of its words zeros is not tried (a page of data fails at once); one
 * whose zeros are all in short gaps may be left whole so: never a wrong page, one not packed. */
static inline int amber_pack_page(uint8_t *out, const uint8_t *page) {
  if (amber_page_zero_words(page) < 512 / 8) return -1;
  uint32_t len = 0, at = 0, done = 0;
  for (;;) {
    while (at < 4096 && !page[at]) at++;
    if (at == 4096) return (int)len;
    uint32_t start = at, last = at;
    for (at++; at < 4096 && at - last <= AMBER_PACK_GAP; at++)
      if (page[at]) last = at;
    uint32_t zeros = start - done, n = last + 1 - start;
    if (len + 4 + n > AMBER_PACKED_MAX) return -1;
    out[len] = (uint8_t)zeros, out[len + 1] = (uint8_t)(zeros >> 8);
    out[len + 2] = (uint8_t)n, out[len + 3] = (uint8_t)(n >> 8);
    for (uint32_t i = 0; i < n; i++) out[len + 4 + i] = page[start + i];
    len += 4 + n;
    done = at = last + 1;
  }
}

/* The page (4096 bytes) from its packed bytes; 0, or -1 if they are not a packed page. */
static inline int amber_unpack_page(uint8_t *page, const uint8_t *in, uint32_t len) {
  uint32_t at = 0, i = 0;
  for (uint32_t k = 0; k < 4096; k++) page[k] = 0;
  while (i < len) {
    if (len - i < 4) return -1;
    uint32_t zeros = in[i] | (uint32_t)in[i + 1] << 8, n = in[i + 2] | (uint32_t)in[i + 3] << 8;
    i += 4;
    if (zeros > 4096 - at || n > 4096 - at - zeros || n > len - i) return -1;
    at += zeros;
    for (uint32_t k = 0; k < n; k++) page[at + k] = in[i + k];
    at += n, i += n;
  }
  return 0;
}

#endif
