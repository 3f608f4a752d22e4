/* Timing points of the freeze (agent_freeze_times.h): off unless asked for, and then a clock
 * read per step; logged after the thaw, so that the log costs the program nothing frozen.
 * Runs in the handler: raw system calls. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"
#include "agent_freeze_times.h"

#define MAX_MARKS 32
static int wanted;
static int nmarks;
static const char *names[MAX_MARKS];
static int64_t at[MAX_MARKS];

__attribute__((constructor)) static void freeze_times_wanted(void) {
  const char *v = getenv("AMBER_FREEZE_TIMES");
  wanted = v && *v && strcmp(v, "0");
}

void amber_freeze_times_start(void) {
  if (!wanted) return;
  nmarks = 0;
  amber_freeze_mark("signal");
}

void amber_freeze_mark(const char *step) {
  if (!wanted || nmarks == MAX_MARKS) return;
  names[nmarks] = step;
  at[nmarks++] = amber_monotonic_ns();
}

void amber_freeze_times_log(void) {
  if (!wanted || !nmarks) return;
  char line[400];
  int n = amber_fmt(line, sizeof line, "freeze times (us):");
  for (int i = 1; i < nmarks && n < (int)sizeof line - 40; i++)
    n += amber_fmt(line + n, sizeof line - n, " %s %ld", names[i], (long)((at[i] - at[0]) / 1000));
  amber_log("%s", line);
  nmarks = 0;
}
