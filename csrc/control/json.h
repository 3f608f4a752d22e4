/* A small JSON writer into a caller-owned buffer: the control library's way of returning
 * structured data to TypeScript. Overflow is remembered and reported as -ENOSPC. */
#ifndef AMBER_JSON_H
#define AMBER_JSON_H

#include <stdint.h>

struct json {
  char *buf;
  int32_t cap, len;
  int overflow;
};

void json_init(struct json *j, char *buf, int32_t cap);
void json_raw(struct json *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void json_str(struct json *j, const char *s); /* a quoted, escaped string */
int32_t json_done(struct json *j);            /* the length, or -ENOSPC */

#endif
