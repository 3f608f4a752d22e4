/* Libraries below the line. The loader maps a library where mmap(NULL) puts it: the highest
 * free range below mmap_base, near the top of the address space, above AMBER_SECCOMP_LIBS_FROM,
 * where the filter takes calls for libc's and lets them through untranslated. While the loader
 * maps any other library, every free range from a random floor below the line up to the stack is
 * held by a PROT_NONE reservation, so the highest free range is below the floor; the reservations
 * go when the loader is done with the batch or comes to libc or Amber's library (audit.c). */
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "../common/seccomp_calls.h"
#include "../common/sys.h"
#include "audit.h"

#define PAGE 4096ULL
#define MAX_HELD 256
/* As far below the line as the kernel moves mmap_base at random (28 bits of pages). */
#define SPREAD_PAGES (1ULL << 28)

static struct range {
  uint64_t start, end;
} held[MAX_HELD];
static int nheld, reserved, enabled;
static uint64_t floor_at, stack_room;

void amber_audit_low_start(void) {
  /* Under the legacy layout (an unlimited stack) libraries are low already, and libc with them;
   * the library tells libc's calls apart by their address (seccomp.c). */
  if ((uint64_t)(uintptr_t)amber_audit_low_start < AMBER_SECCOMP_LIBS_FROM) return;
  uint64_t random = 0;
  amber_sys6(SYS_getrandom, (long)&random, sizeof random, 1 /* GRND_NONBLOCK */, 0, 0, 0);
  floor_at = AMBER_SECCOMP_LIBS_FROM - (random % SPREAD_PAGES) * PAGE;
  /* The main thread's stack grows down into the free range below it: never held. */
  struct rlimit stack = {0, 0};
  amber_sys6(SYS_prlimit64, 0, RLIMIT_STACK, 0, (long)&stack, 0, 0);
  stack_room = stack.rlim_cur > (256ULL << 20) && stack.rlim_cur < (1ULL << 40) ? stack.rlim_cur
                                                                                 : 256ULL << 20;
  stack_room += 16ULL << 20;
  enabled = 1;
}

static uint64_t hex(const char **p) {
  uint64_t v = 0;
  for (;; (*p)++) {
    char c = **p;
    if (c >= '0' && c <= '9') v = v * 16 + (uint64_t)(c - '0');
    else if (c >= 'a' && c <= 'f') v = v * 16 + (uint64_t)(c - 'a' + 10);
    else return v;
  }
}

struct walk {
  uint64_t prev_end;
  int done, overflow;
};

static void note_gap(struct walk *w, uint64_t start, uint64_t end) {
  if (end <= start) return;
  if (nheld == MAX_HELD) {
    w->overflow = 1;
    return;
  }
  held[nheld++] = (struct range){start, end};
}

/* One line of /proc/self/maps: "start-end perms offset dev inode [name]". */
static void see_line(struct walk *w, const char *line) {
  if (w->done) return;
  const char *p = line;
  uint64_t start = hex(&p);
  if (*p++ != '-') return;
  uint64_t end = hex(&p);
  int is_stack = 0;
  for (const char *q = p; *q; q++)
    if (q[0] == '[' && q[1] == 's' && q[2] == 't' && q[3] == 'a' && q[4] == 'c' && q[5] == 'k')
      is_stack = 1;
  if (end <= w->prev_end) return;
  if (start > w->prev_end)
    note_gap(w, w->prev_end, is_stack ? (start > stack_room ? start - stack_room : 0) : start);
  w->prev_end = end;
  if (is_stack) w->done = 1; /* above it: the vDSO and nothing mmap hands out */
}

/* Reads the map and notes its free ranges above the floor; 0 when it could. */
static int find_gaps(void) {
  static char buf[4096], line[512];
  struct walk w = {floor_at, 0, 0};
  long fd = amber_sys6(SYS_openat, -100, (long)"/proc/self/maps", 0x80000 /* O_CLOEXEC */, 0, 0,
                       AMBER_SECCOMP_MAGIC);
  if (fd < 0) return -1;
  int len = 0;
  for (;;) {
    long got = amber_sys6(SYS_read, fd, (long)buf, sizeof buf, 0, 0, AMBER_SECCOMP_MAGIC);
    if (got <= 0) break;
    for (long i = 0; i < got; i++) {
      if (buf[i] != '\n') {
        if (len < (int)sizeof line - 1) line[len++] = buf[i];
        continue;
      }
      line[len] = 0;
      see_line(&w, line);
      len = 0;
    }
  }
  amber_sys6(SYS_close, fd, 0, 0, 0, 0, 0);
  return w.overflow ? -1 : 0;
}

void amber_audit_low_release(void) {
  for (int i = 0; i < nheld; i++)
    amber_sys6(SYS_munmap, (long)held[i].start, (long)(held[i].end - held[i].start), 0, 0, 0, 0);
  nheld = 0;
  reserved = 0;
}

void amber_audit_low_reserve(void) {
  if (!enabled || reserved) return;
  reserved = 1;
  nheld = 0;
  if (find_gaps() != 0) {
    nheld = 0; /* too many free ranges to hold: this library goes where the loader puts it */
    return;
  }
  int kept = 0;
  for (int i = 0; i < nheld; i++) {
    long r = amber_sys6(SYS_mmap, (long)held[i].start, (long)(held[i].end - held[i].start),
                        PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE,
                        -1, 0);
    /* taken meanwhile by another thread (EEXIST): not ours to release */
    if (r == (long)held[i].start) held[kept++] = held[i];
    else if (r > 0) amber_sys6(SYS_munmap, r, (long)(held[i].end - held[i].start), 0, 0, 0, 0);
  }
  nheld = kept;
}
