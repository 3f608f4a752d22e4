/* Reading /proc files of any length, line by line, with raw system calls (agent_lines.c). */
#ifndef AMBER_AGENT_LINES_H
#define AMBER_AGENT_LINES_H

#include "agent.h"

/* Calls fn(ctx, line) for each line (without its newline) of the file; stops at the first
 * nonzero fn returns and returns it; -errno if the file cannot be read. */
typedef int (*amber_line_fn)(void *ctx, const char *line);
int amber_read_lines(const char *path, amber_line_fn fn, void *ctx);

/* One line of /proc/<pid>/maps: "start-end perms offset major:minor inode name". */
struct amber_maps_line {
  uint64_t start, end, pgoff, dev, ino;
  const char *perms, *name; /* into the line */
  int shared;
};
int amber_parse_maps_line(const char *line, struct amber_maps_line *out); /* 0, or -1 */

#endif
