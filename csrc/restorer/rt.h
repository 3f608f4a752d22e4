/* The restorer's own tiny runtime: it links no libc, since it unmaps everything but itself. */
#ifndef AMBER_RESTORER_RT_H
#define AMBER_RESTORER_RT_H

#include <stddef.h>
#include <stdint.h>

#include "../common/sys.h"

void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
void rt_copy(char *dst, const char *src, size_t cap);
/* Appends a decimal or hex number to a string (for messages). */
void rt_append(char *dst, size_t cap, const char *s);
void rt_append_num(char *dst, size_t cap, long v, int base);
int rt_parse_hex(const char **p, uint64_t *out);
long rt_pread_all(int fd, void *buf, uint64_t len, uint64_t off);

#endif
