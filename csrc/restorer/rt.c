#include "rt.h"

void *memset(void *dst, int c, size_t n) {
  unsigned char *d = dst;
  while (n--) *d++ = (unsigned char)c;
  return dst;
}

void *memcpy(void *dst, const void *src, size_t n) {
  unsigned char *d = dst;
  const unsigned char *s = src;
  while (n--) *d++ = *s++;
  return dst;
}

size_t strlen(const char *s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}

int strncmp(const char *a, const char *b, size_t n) {
  for (; n; n--, a++, b++) {
    if (*a != *b) return (unsigned char)*a - (unsigned char)*b;
    if (!*a) return 0;
  }
  return 0;
}

int strcmp(const char *a, const char *b) { return strncmp(a, b, (size_t)-1); }

void rt_copy(char *dst, const char *src, size_t cap) {
  size_t i = 0;
  for (; src[i] && i + 1 < cap; i++) dst[i] = src[i];
  dst[i] = 0;
}

void rt_append(char *dst, size_t cap, const char *s) {
  size_t n = strlen(dst);
  rt_copy(dst + n, s, cap - n);
}

void rt_append_num(char *dst, size_t cap, long v, int base) {
  char tmp[24];
  int k = 0, neg = v < 0;
  unsigned long u = neg ? -(unsigned long)v : (unsigned long)v;
  do {
    tmp[k++] = "0123456789abcdef"[u % base];
    u /= base;
  } while (u);
  char out[26];
  int n = 0;
  if (neg) out[n++] = '-';
  while (k) out[n++] = tmp[--k];
  out[n] = 0;
  rt_append(dst, cap, out);
}

int rt_parse_hex(const char **p, uint64_t *out) {
  uint64_t v = 0;
  const char *s = *p;
  int any = 0;
  for (;; s++) {
    if (*s >= '0' && *s <= '9') v = v * 16 + (*s - '0');
    else if (*s >= 'a' && *s <= 'f') v = v * 16 + (*s - 'a' + 10);
    else break;
    any = 1;
  }
  *p = s;
  *out = v;
  return any ? 0 : -1;
}

long rt_pread_all(int fd, void *buf, uint64_t len, uint64_t off) {
  char *p = buf;
  while (len) {
    long n = amber_sys4(SYS_pread64, fd, p, len, off);
    if (n == -4 /* EINTR */) continue;
    if (n <= 0) return n < 0 ? n : -5 /* EIO */;
    p += n, len -= n, off += n;
  }
  return 0;
}
