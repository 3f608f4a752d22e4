/* /proc/self/fdinfo/<fd>: the kernel's description of a descriptor, as "name:\tvalue" lines
 * (declared in fd_kinds.h). */
#include <string.h>

#include "fd_kinds.h"

long amber_fdinfo_read(int fd, char *buf, long cap) {
  char path[64];
  amber_fmt(path, sizeof path, "/proc/thread-self/fdinfo/%d", fd);
  return amber_read_file(path, buf, cap);
}

const char *amber_fdinfo_field(const char *text, const char *name) {
  size_t n = strlen(name);
  for (const char *line = text; line && *line;) {
    if (!strncmp(line, name, n)) {
      const char *p = line + n;
      while (*p == ' ' || *p == '\t') p++;
      return p;
    }
    line = strchr(line, '\n');
    if (line) line++;
  }
  return 0;
}

int amber_fdinfo_u64(const char *text, const char *name, int base, uint64_t *out) {
  const char *p = amber_fdinfo_field(text, name);
  return p ? amber_parse_u64(&p, out, base) : -1;
}
