/* Reading a /proc file line by line through a fixed buffer, however long the file: a process
 * with tens of thousands of mappings has megabytes of /proc/<pid>/maps. */
#include <fcntl.h>

#include "agent_lines.h"

int amber_read_lines(const char *path, amber_line_fn fn, void *ctx) {
  static char buf[1 << 16]; /* one caller at a time: the checkpoint leader */
  int fd = (int)amber_sys3(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fd;
  long have = 0;
  int err = 0;
  for (;;) {
    long n = amber_sys3(SYS_read, fd, buf + have, sizeof buf - 1 - have);
    if (n == -EINTR) continue;
    if (n < 0) {
      err = (int)n;
      break;
    }
    have += n;
    buf[have] = 0;
    long from = 0;
    for (long i = 0; i < have && !err; i++) {
      if (buf[i] != '\n') continue;
      buf[i] = 0;
      err = fn(ctx, buf + from);
      from = i + 1;
    }
    if (!err && n == 0 && from < have) err = fn(ctx, buf + from); /* no newline at the end */
    if (err || n == 0) break;
    if (from == 0 && have == (long)sizeof buf - 1) from = have; /* a line too long: dropped */
    for (long i = from; i < have; i++) buf[i - from] = buf[i];
    have -= from;
  }
  amber_sys1(SYS_close, fd);
  return err;
}

int amber_parse_maps_line(const char *line, struct amber_maps_line *out) {
  const char *p = line;
  if (amber_parse_u64(&p, &out->start, 16) || *p++ != '-' || amber_parse_u64(&p, &out->end, 16) ||
      *p++ != ' ' || !p[0] || !p[1] || !p[2] || !p[3])
    return -1;
  out->perms = p;
  p += 5;
  uint64_t major, minor;
  amber_parse_u64(&p, &out->pgoff, 16);
  p++;
  amber_parse_u64(&p, &major, 16);
  p++;
  amber_parse_u64(&p, &minor, 16);
  p++;
  amber_parse_u64(&p, &out->ino, 10);
  while (*p == ' ') p++;
  out->dev = (major << 8) | minor;
  out->name = p;
  out->shared = out->perms[3] == 's';
  return 0;
}
