#include "hash.h"

#include <string.h>

#define P1 0x9E3779B185EBCA87ULL
#define P2 0xC2B2AE3D27D4EB4FULL
#define P3 0x165667B19E3779F9ULL
#define P4 0x85EBCA77C2B2AE63ULL
#define P5 0x27D4EB2F165667C5ULL

static inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
/* __builtin_memcpy: inlined also where builtins are off (the restorer). */
static inline uint64_t read64(const uint8_t *p) {
  uint64_t v;
  __builtin_memcpy(&v, p, 8);
  return v;
}
static inline uint32_t read32(const uint8_t *p) {
  uint32_t v;
  __builtin_memcpy(&v, p, 4);
  return v;
}
static inline uint64_t round64(uint64_t acc, uint64_t in) { return rotl(acc + in * P2, 31) * P1; }
static inline uint64_t merge(uint64_t acc, uint64_t v) { return (acc ^ round64(0, v)) * P1 + P4; }

void amber_hash_init(struct amber_hash *h) {
  memset(h, 0, sizeof *h);
  h->v[0] = P1 + P2;
  h->v[1] = P2;
  h->v[2] = 0;
  h->v[3] = -P1;
}

static void stripes(struct amber_hash *h, const uint8_t *p, size_t n) {
  uint64_t a = h->v[0], b = h->v[1], c = h->v[2], d = h->v[3];
  for (size_t i = 0; i + 32 <= n; i += 32) {
    a = round64(a, read64(p + i));
    b = round64(b, read64(p + i + 8));
    c = round64(c, read64(p + i + 16));
    d = round64(d, read64(p + i + 24));
  }
  h->v[0] = a, h->v[1] = b, h->v[2] = c, h->v[3] = d;
}

void amber_hash_update(struct amber_hash *h, const void *data, size_t len) {
  const uint8_t *p = data;
  h->total += len;
  if (h->tail_len) {
    size_t take = 32 - h->tail_len < len ? 32 - h->tail_len : len;
    memcpy(h->tail + h->tail_len, p, take);
    h->tail_len += take, p += take, len -= take;
    if (h->tail_len < 32) return;
    stripes(h, h->tail, 32);
    h->tail_len = 0;
  }
  size_t whole = len & ~(size_t)31;
  stripes(h, p, whole);
  memcpy(h->tail, p + whole, len - whole);
  h->tail_len = len - whole;
}

uint64_t amber_hash_final(const struct amber_hash *h) {
  uint64_t acc;
  if (h->total >= 32) {
    acc = rotl(h->v[0], 1) + rotl(h->v[1], 7) + rotl(h->v[2], 12) + rotl(h->v[3], 18);
    for (int i = 0; i < 4; i++) acc = merge(acc, h->v[i]);
  } else {
    acc = h->v[2] + P5;
  }
  acc += h->total;
  const uint8_t *p = h->tail;
  size_t n = h->tail_len;
  for (; n >= 8; p += 8, n -= 8) acc = rotl(acc ^ round64(0, read64(p)), 27) * P1 + P4;
  if (n >= 4) acc = rotl(acc ^ (read32(p) * P1), 23) * P2 + P3, p += 4, n -= 4;
  for (; n; p++, n--) acc = rotl(acc ^ (*p * P5), 11) * P1;
  acc ^= acc >> 33, acc *= P2, acc ^= acc >> 29, acc *= P3, acc ^= acc >> 32;
  return acc;
}

uint64_t amber_hash_copy(void *dst, const void *src, size_t len) {
  struct amber_hash h;
  amber_hash_init(&h);
  const uint8_t *p = src;
  uint8_t *q = dst;
  uint64_t a = h.v[0], b = h.v[1], c = h.v[2], d = h.v[3];
  size_t whole = len & ~(size_t)31;
  /* Each word is hashed as it was copied: the hash is that of the copy, whatever the source
   * does meanwhile. */
  for (size_t i = 0; i < whole; i += 32) {
    uint64_t w0 = read64(p + i), w1 = read64(p + i + 8), w2 = read64(p + i + 16),
             w3 = read64(p + i + 24);
    __builtin_memcpy(q + i, &w0, 8);
    __builtin_memcpy(q + i + 8, &w1, 8);
    __builtin_memcpy(q + i + 16, &w2, 8);
    __builtin_memcpy(q + i + 24, &w3, 8);
    a = round64(a, w0), b = round64(b, w1), c = round64(c, w2), d = round64(d, w3);
  }
  h.v[0] = a, h.v[1] = b, h.v[2] = c, h.v[3] = d;
  h.total = whole;
  __builtin_memcpy(q + whole, p + whole, len - whole);
  amber_hash_update(&h, q + whole, len - whole);
  return amber_hash_final(&h);
}
