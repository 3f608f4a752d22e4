/* XXH64 (Yann Collet's xxHash, 64-bit), streaming: the image checksum. Fast enough to verify a
 * gigabyte image at memory speed. */
#ifndef AMBER_HASH_H
#define AMBER_HASH_H

#include <stddef.h>
#include <stdint.h>

struct amber_hash {
  uint64_t v[4], total;
  uint8_t tail[32];
  uint32_t tail_len;
};

void amber_hash_init(struct amber_hash *h);
void amber_hash_update(struct amber_hash *h, const void *data, size_t len);
uint64_t amber_hash_final(const struct amber_hash *h);
/* Copies len bytes from src to dst and returns the XXH64 of the bytes copied (read once: a
 * source that changes meanwhile cannot make the hash disagree with the copy). */
uint64_t amber_hash_copy(void *dst, const void *src, size_t len);

#endif
