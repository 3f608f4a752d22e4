#include "json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

void json_init(struct json *j, char *buf, int32_t cap) {
  j->buf = buf;
  j->cap = cap;
  j->len = 0;
  j->overflow = cap <= 0;
}

void json_raw(struct json *j, const char *fmt, ...) {
  if (j->overflow) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(j->buf + j->len, j->cap - j->len, fmt, ap);
  va_end(ap);
  if (n < 0 || n >= j->cap - j->len) j->overflow = 1;
  else j->len += n;
}

void json_str(struct json *j, const char *s) {
  json_raw(j, "\"");
  for (; s && *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') json_raw(j, "\\%c", c);
    else if (c < 0x20) json_raw(j, "\\u%04x", c);
    else json_raw(j, "%c", c);
  }
  json_raw(j, "\"");
}

int32_t json_done(struct json *j) { return j->overflow ? -ENOSPC : j->len; }
