/* The process's CPU time goes on across a restore, as its threads' do (agent_cpu_time.c): the
 * kernel starts the restored process's clock from zero, so the library adds a shift, the clock at
 * the freeze less the clock once restored. Another process of the application may read this
 * one's clock (clock_getcpuclockid and the process's virtual pid): the shift is also in the
 * process's row of the shared tables, where that reader finds it.
 *
 * Every thread notes the clock in the checkpoint handler and the largest is kept: the last thread
 * to stop notes it when no thread of the program runs, so it is at least anything the program
 * read before the freeze, and the clock never goes back. times() and getrusage() count user and
 * system time apart: each of the two is noted and shifted by itself, in its own unit; their
 * shifts are in the shared tables too (beside the row), so that they survive an exec as the
 * clock's does. The times of the children it reaped (times()'s cutime and cstime,
 * RUSAGE_CHILDREN) go on the same way, and a restored child's shifts are added to its parent's
 * children's as it is reaped (the kernel adds only what it counted since the restore). */
#include <sys/resource.h>
#include <sys/times.h>

#include "agent.h"
#include "../wrappers/cpu_clock.h"

struct reading {
  int64_t clock;          /* ns, as the program read it */
  int64_t utime, stime;   /* clock ticks, times() */
  int64_t ru_utime, ru_stime; /* µs, getrusage(RUSAGE_SELF) */
  int64_t cutime, cstime;       /* clock ticks, times(): the children reaped */
  int64_t ru_cutime, ru_cstime; /* µs, getrusage(RUSAGE_CHILDREN) */
};
#define NTIMES 8 /* utime to ru_cstime: the shifts kept in the process's row */

static struct reading at_freeze, shift;
static int shifted; /* 0 before any restore: a read costs nothing more */

static void note_max(int64_t *at, int64_t value) {
  int64_t seen = __atomic_load_n(at, __ATOMIC_RELAXED);
  while (value > seen &&
         !__atomic_compare_exchange_n(at, &seen, value, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {}
}

int64_t *amber_process_times_shift(struct amber_row *row) {
  return amber.table->cpu_times_shift[row - amber.table->rows[AMBER_KIND_PID]];
}

static int64_t us(struct timeval tv) { return tv.tv_sec * 1000000LL + tv.tv_usec; }

/* The kernel's readings, with the shifts the program sees added. */
static struct reading now(void) {
  struct reading r = {0};
  r.clock = amber_cpu_clock_ns(CLOCK_PROCESS_CPUTIME_ID) + shift.clock;
  struct tms t = {0}; /* what times() returns is a tick count, never an error here */
  amber_sys1(SYS_times, &t);
  r.utime = t.tms_utime + shift.utime;
  r.stime = t.tms_stime + shift.stime;
  r.cutime = t.tms_cutime + shift.cutime;
  r.cstime = t.tms_cstime + shift.cstime;
  struct rusage u;
  if (amber_sys2(SYS_getrusage, RUSAGE_SELF, &u) == 0) {
    r.ru_utime = us(u.ru_utime) + shift.ru_utime;
    r.ru_stime = us(u.ru_stime) + shift.ru_stime;
  }
  if (amber_sys2(SYS_getrusage, RUSAGE_CHILDREN, &u) == 0) {
    r.ru_cutime = us(u.ru_utime) + shift.ru_cutime;
    r.ru_cstime = us(u.ru_stime) + shift.ru_cstime;
  }
  return r;
}

void amber_process_cpu_capture(void) {
  struct reading r = now();
  note_max(&at_freeze.clock, r.clock);
  note_max(&at_freeze.utime, r.utime);
  note_max(&at_freeze.stime, r.stime);
  note_max(&at_freeze.ru_utime, r.ru_utime);
  note_max(&at_freeze.ru_stime, r.ru_stime);
  note_max(&at_freeze.cutime, r.cutime);
  note_max(&at_freeze.cstime, r.cstime);
  note_max(&at_freeze.ru_cutime, r.ru_cutime);
  note_max(&at_freeze.ru_cstime, r.ru_cstime);
}

/* The times part of a reading, in the order the row keeps them. */
static int64_t *times_of(struct reading *r) { return &r->utime; }

/* In the restored leader, before the program goes on. */
void amber_process_cpu_after_restore(void) {
  shift = (struct reading){0};
  struct reading r = now();
  shift.clock = at_freeze.clock - r.clock;
  for (int i = 0; i < NTIMES; i++) times_of(&shift)[i] = times_of(&at_freeze)[i] - times_of(&r)[i];
  shifted = 1;
  struct amber_row *row = amber_row_by_vid(amber.table, AMBER_KIND_PID, amber.vpid);
  if (!row) return;
  int64_t *kept = amber_process_times_shift(row);
  for (int i = 0; i < NTIMES; i++) __atomic_store_n(&kept[i], times_of(&shift)[i], __ATOMIC_RELAXED);
  __atomic_store_n(&row->cpu_shift, shift.clock, __ATOMIC_RELEASE);
}

/* A forked child: its clocks start from zero, its row from a 0 shift. */
void amber_process_cpu_forget(void) {
  at_freeze = shift = (struct reading){0};
  shifted = 0;
}

/* After an exec, which keeps the kernel's clocks: the shifts, from the process's row. */
void amber_process_cpu_inherit(void) {
  struct amber_row *row = amber_row_by_vid(amber.table, AMBER_KIND_PID, amber.vpid);
  at_freeze = shift = (struct reading){0};
  if (row) {
    shift.clock = __atomic_load_n(&row->cpu_shift, __ATOMIC_ACQUIRE);
    const int64_t *times = amber_process_times_shift(row);
    for (int i = 0; i < NTIMES; i++) times_of(&shift)[i] = __atomic_load_n(&times[i], __ATOMIC_RELAXED);
  }
  shifted = shift.clock != 0;
  for (int i = 0; i < NTIMES; i++) shifted |= times_of(&shift)[i] != 0;
}

/* The shift of `clock` as the program holds it: a process's SCHED clock (this one's, or another
 * of the application's by its virtual pid), else 0. PROF and VIRT clocks count user and system
 * time apart, which the freeze did not note per clock. */
int64_t amber_process_cpu_shift(clockid_t clock) {
  if (clock == CLOCK_PROCESS_CPUTIME_ID) return shifted ? shift.clock : 0;
  if (!amber_cpu_clock(clock) || amber_cpu_clock_thread(clock) ||
      (clock & 3) != AMBER_CPUCLOCK_SCHED || !amber_active())
    return 0;
  int id = amber_cpu_clock_id(clock);
  if (id == 0 || id == amber.vpid) return shifted ? shift.clock : 0;
  struct amber_row *row = amber_row_by_vid(amber.table, AMBER_KIND_PID, id);
  if (!row || !(__atomic_load_n(&row->flags, __ATOMIC_ACQUIRE) & AMBER_PID_PROCESS)) return 0;
  return __atomic_load_n(&row->cpu_shift, __ATOMIC_ACQUIRE);
}

void amber_process_times_read(struct tms *t) {
  if (!shifted) return;
  t->tms_utime += shift.utime;
  t->tms_stime += shift.stime;
  t->tms_cutime += shift.cutime;
  t->tms_cstime += shift.cstime;
}

static struct timeval tv(int64_t v) { return (struct timeval){v / 1000000, v % 1000000}; }

void amber_process_rusage_read(int who, struct rusage *u) {
  int64_t add[2] = {0, 0};
  if (who == RUSAGE_THREAD) { /* the thread's (agent_thread_times.c) */
    amber_thread_rusage_shift(amber_sys_gettid(), add);
  } else if (!shifted) {
    return;
  } else if (who == RUSAGE_SELF) {
    add[0] = shift.ru_utime, add[1] = shift.ru_stime;
  } else if (who == RUSAGE_CHILDREN) {
    add[0] = shift.ru_cutime, add[1] = shift.ru_cstime;
  }
  u->ru_utime = tv(us(u->ru_utime) + add[0]);
  u->ru_stime = tv(us(u->ru_stime) + add[1]);
}

/* A restored child's CPU time before its restore, which the kernel does not count: what it
 * and its own reaped children had, in ticks and µs (its row's shifts, read before the row goes). */
static __thread int64_t reaped_ru[2];

void amber_process_child_reaped(int32_t child) {
  struct amber_row *row = amber_row_by_vid(amber.table, AMBER_KIND_PID, child);
  struct amber_row *mine = amber_row_by_vid(amber.table, AMBER_KIND_PID, amber.vpid);
  if (!row) return;
  const int64_t *theirs = amber_process_times_shift(row);
  int64_t add[4] = {0, 0, 0, 0}; /* cutime, cstime, ru_cutime, ru_cstime */
  for (int i = 0; i < 4; i++)
    add[i] = __atomic_load_n(&theirs[i], __ATOMIC_RELAXED) +
             __atomic_load_n(&theirs[i + 4], __ATOMIC_RELAXED);
  if (!(add[0] | add[1] | add[2] | add[3])) return;
  reaped_ru[0] += add[2], reaped_ru[1] += add[3];
  int64_t *children = &shift.cutime, *kept = mine ? amber_process_times_shift(mine) : 0;
  for (int i = 0; i < 4; i++) {
    children[i] += add[i];
    if (kept) __atomic_store_n(&kept[i + 4], children[i], __ATOMIC_RELAXED);
  }
  shifted = 1;
}

void amber_process_reaped_rusage(struct rusage *u) {
  if (u) {
    u->ru_utime = tv(us(u->ru_utime) + reaped_ru[0]);
    u->ru_stime = tv(us(u->ru_stime) + reaped_ru[1]);
  }
  reaped_ru[0] = reaped_ru[1] = 0;
}
