/* The clocks a restored application reads go on from where they were. CLOCK_MONOTONIC and
 * CLOCK_BOOTTIME count from the computer's boot: restored on one that has been up for less time
 * (after a migration), they went back, and every deadline the program had computed from them (a
 * Go timer, an event loop's next timeout, a sleep until) was as far away as the uptimes differ:
 * hours or days. When the image's processes read more than this computer does, the root
 * restorer enters a new time namespace, with offsets that make the clocks go on from the image's
 * values, before it forks the others, which are born in it (as CRIU does). A namespace needs
 * CAP_SYS_ADMIN: without it the clocks go back, as before (README, Limits). */
#include <sched.h>
#include <time.h>

#include "restorer.h"

#define CLONE_NEWTIME_FLAG 0x80

static uint32_t image_monotonic, image_boottime; /* seconds, the most any process read */

void note_image_clocks(const struct amber_proc_header *h) {
  if (h->monotonic_s > image_monotonic) image_monotonic = h->monotonic_s;
  if (h->boottime_s > image_boottime) image_boottime = h->boottime_s;
}

static long parse_signed(const char **p) {
  const char *s = *p;
  while (*s == ' ') s++;
  int negative = *s == '-';
  if (negative) s++;
  long v = 0;
  while (*s >= '0' && *s <= '9') v = v * 10 + (*s++ - '0');
  *p = s;
  return negative ? -v : v;
}

/* The offsets of this process's time namespace, in seconds (nanoseconds ignored: the new
 * offsets are whole seconds anyway); 0 without time namespaces (Linux before 5.6). */
static void own_offsets(long *monotonic, long *boottime) {
  *monotonic = *boottime = 0;
  char text[256];
  long fd = amber_sys3(SYS_openat, -100, "/proc/self/timens_offsets", 0);
  if (fd < 0) return;
  long n = amber_sys3(SYS_read, fd, text, sizeof text - 1);
  amber_sys1(SYS_close, fd);
  text[n > 0 ? n : 0] = 0;
  for (const char *p = text; *p;) {
    long *which = !strncmp(p, "monotonic", 9) ? monotonic : !strncmp(p, "boottime", 8) ? boottime : 0;
    while (*p && *p != ' ') p++;
    if (which) *which = parse_signed(&p);
    while (*p && *p != '\n') p++;
    if (*p) p++;
  }
}

static void append_offset(char *line, const char *clock, long seconds) {
  rt_append(line, 128, clock);
  rt_append(line, 128, " ");
  if (seconds < 0) rt_append(line, 128, "-");
  rt_append_num(line, 128, seconds < 0 ? -seconds : seconds, 10);
  rt_append(line, 128, " 0\n");
}

void keep_clocks(void) {
  struct timespec monotonic, boottime;
  if (amber_sys2(SYS_clock_gettime, CLOCK_MONOTONIC, &monotonic) ||
      amber_sys2(SYS_clock_gettime, CLOCK_BOOTTIME, &boottime))
    return;
  int behind_m = image_monotonic > monotonic.tv_sec, behind_b = image_boottime > boottime.tv_sec;
  if (!behind_m && !behind_b) return; /* they go on forward from the image's: nothing to do */
  long offset_m, offset_b;
  own_offsets(&offset_m, &offset_b);
  /* A new namespace's offsets are from the computer's own clocks, which read what this one's
   * do less its offsets; a clock that does not go back keeps the offset it has. */
  if (behind_m) offset_m = (long)image_monotonic - (monotonic.tv_sec - offset_m);
  if (behind_b) offset_b = (long)image_boottime - (boottime.tv_sec - offset_b);
  if (amber_sys1(SYS_unshare, CLONE_NEWTIME_FLAG)) return; /* not allowed: they go back */
  char line[128] = "";
  append_offset(line, "monotonic", offset_m);
  append_offset(line, "boottime", offset_b);
  long fd = amber_sys3(SYS_openat, -100, "/proc/self/timens_offsets", 1 /* O_WRONLY */);
  long wrote = fd < 0 ? fd : amber_sys3(SYS_write, fd, line, strlen(line));
  if (fd >= 0) amber_sys1(SYS_close, fd);
  if (wrote < 0) die("cannot set the clocks' offsets in a time namespace", wrote);
  long ns = amber_sys3(SYS_openat, -100, "/proc/self/ns/time_for_children", 0x80000);
  long entered = ns < 0 ? ns : amber_sys2(SYS_setns, ns, CLONE_NEWTIME_FLAG);
  if (ns >= 0) amber_sys1(SYS_close, ns);
  if (entered < 0) die("cannot enter the time namespace made for the clocks", entered);
}
