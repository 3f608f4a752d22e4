/* Small helpers for code that runs in the checkpoint signal handler: no malloc, no stdio, no
 * locks, raw system calls only. */
#include <fcntl.h>
#include <linux/futex.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "util.h"
#include "amber.h"

void amber_futex_wait(uint32_t *word, uint32_t seen, int shared, int timeout_ms) {
  struct timespec ts = {timeout_ms / 1000, (timeout_ms % 1000) * 1000000L};
  amber_sys4(SYS_futex, word, shared ? FUTEX_WAIT : FUTEX_WAIT_PRIVATE, seen,
             timeout_ms >= 0 ? &ts : 0);
}

void amber_futex_wake(uint32_t *word, int shared) {
  amber_sys3(SYS_futex, word, shared ? FUTEX_WAKE : FUTEX_WAKE_PRIVATE, 0x7fffffff);
}

int64_t amber_monotonic_ns(void) {
  struct timespec ts;
  return amber_sys2(SYS_clock_gettime, CLOCK_MONOTONIC, &ts) ? 0
                                                             : ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int put(char *buf, int cap, int n, char c) {
  if (n < cap - 1) buf[n] = c;
  return n + 1;
}

static int put_num(char *buf, int cap, int n, unsigned long v, int base, int neg) {
  char tmp[24];
  int k = 0;
  do {
    tmp[k++] = "0123456789abcdef"[v % base];
    v /= base;
  } while (v);
  if (neg) n = put(buf, cap, n, '-');
  while (k) n = put(buf, cap, n, tmp[--k]);
  return n;
}

int amber_vfmt(char *buf, int cap, const char *fmt, va_list ap) {
  int n = 0;
  for (const char *p = fmt; *p; p++) {
    if (*p != '%') {
      n = put(buf, cap, n, *p);
      continue;
    }
    switch (*++p) {
    case 's':
      for (const char *s = va_arg(ap, const char *); s && *s; s++) n = put(buf, cap, n, *s);
      break;
    case 'd': {
      long v = va_arg(ap, int);
      n = put_num(buf, cap, n, v < 0 ? -v : v, 10, v < 0);
      break;
    }
    case 'x': n = put_num(buf, cap, n, va_arg(ap, unsigned), 16, 0); break;
    case 'l':
      p++; /* %lx or %ld */
      if (*p == 'x') n = put_num(buf, cap, n, va_arg(ap, unsigned long), 16, 0);
      else {
        long v = va_arg(ap, long);
        n = put_num(buf, cap, n, v < 0 ? -v : v, 10, v < 0);
      }
      break;
    default: n = put(buf, cap, n, *p);
    }
  }
  if (cap > 0) buf[n < cap ? n : cap - 1] = 0;
  return n;
}

int amber_fmt(char *buf, int cap, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = amber_vfmt(buf, cap, fmt, ap);
  va_end(ap);
  return n;
}

int amber_is_deleted(const char *name) {
  size_t n = strlen(name);
  return n > 10 && !strcmp(name + n - 10, " (deleted)");
}

void amber_undeleted_name(const char *name, int skip, char *out, int cap) {
  int n = (int)strlen(name + skip) - (amber_is_deleted(name) ? 10 : 0);
  if (n < 0) n = 0;
  if (n > cap - 1) n = cap - 1;
  memcpy(out, name + skip, (size_t)n);
  out[n] = 0;
}

long amber_read_file(const char *path, char *buf, long cap) {
  int fd = (int)amber_sys3(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fd;
  long total = 0;
  while (total < cap - 1) {
    long n = amber_sys3(SYS_read, fd, buf + total, cap - 1 - total);
    if (n <= 0) break;
    total += n;
  }
  amber_sys1(SYS_close, fd);
  buf[total] = 0;
  return total;
}

int amber_parse_u64(const char **p, uint64_t *out, int base) {
  const char *s = *p;
  uint64_t v = 0;
  int any = 0;
  for (;; s++) {
    int d;
    if (*s >= '0' && *s <= '9') d = *s - '0';
    else if (base == 16 && *s >= 'a' && *s <= 'f') d = *s - 'a' + 10;
    else break;
    v = v * base + d;
    any = 1;
  }
  *p = s;
  *out = v;
  return any ? 0 : -1;
}

char amber_proc_state(const char *stat_path) {
  char stat[512];
  long n = amber_read_file(stat_path, stat, sizeof stat - 1);
  if (n <= 0) return 0;
  stat[n] = 0;
  const char *end = 0;
  for (const char *p = stat; *p; p++)
    if (*p == ')') end = p; /* the last ')' ends the name */
  return end && end[1] == ' ' ? end[2] : 0;
}

/* The numeric entries of a /proc directory (threads, descriptors), in the kernel's (rising)
 * order; for /proc/thread-self/fd, without the descriptor this listing itself uses. Returns how
 * many, -E2BIG when they do not fit, or -errno. */
int amber_list_numbers(const char *dir_path, int32_t *out, int cap) {
  int own_fds = !strcmp(dir_path, "/proc/thread-self/fd");
  static char dents[4096]; /* only the checkpoint leader lists, one listing at a time */
  int dir = (int)amber_sys3(SYS_openat, AT_FDCWD, dir_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return dir;
  int count = 0;
  long n;
  while ((n = amber_sys3(SYS_getdents64, dir, dents, sizeof dents)) > 0) {
    for (long off = 0; off < n;) {
      struct amber_dirent64 *d = (void *)(dents + off);
      off += d->reclen;
      const char *p = d->name;
      uint64_t number;
      if (amber_parse_u64(&p, &number, 10) || *p || (own_fds && (int)number == dir)) continue;
      if (count == cap) {
        amber_sys1(SYS_close, dir);
        return -E2BIG;
      }
      out[count++] = (int32_t)number;
    }
  }
  amber_sys1(SYS_close, dir);
  return count;
}
