/* Interval timers (setitimer) come back as getitimer read them at the freeze: remaining time and
 * interval, a disarmed timer's interval too (the kernel keeps and shows it). The two on CPU time
 * (ITIMER_VIRTUAL, ITIMER_PROF) need care: the kernel adds a tick to any value set on them
 * (set_cpu_itimer in kernel/time/itimer.c, so that one never fires early) and getitimer counts
 * that tick in, so setting back what it gave would add a tick at every restore. The tick is
 * measured once (a value set on ITIMER_VIRTUAL, read back at once) and taken off. */
#include <sys/time.h>

#include "agent.h"

#define US 1000000LL

static int64_t us(const uint64_t tv[2]) { return (int64_t)tv[0] * US + (int64_t)tv[1]; }

/* What the kernel adds, in µs: the nearest of the ticks of HZ 1000, 300, 250 and 100 (or none). */
static int64_t added_tick(void) {
  static const int64_t ticks[] = {0, 1000, 3333, 4000, 10000};
  uint64_t probe[4] = {0, 0, 1, 0}, read[4] = {0}, off[4] = {0};
  amber_sys3(SYS_setitimer, ITIMER_VIRTUAL, probe, 0);
  amber_sys2(SYS_getitimer, ITIMER_VIRTUAL, read);
  amber_sys3(SYS_setitimer, ITIMER_VIRTUAL, off, 0);
  int64_t extra = us(&read[2]) - US, best = 0;
  for (unsigned i = 0; i < sizeof ticks / sizeof *ticks; i++) {
    int64_t d = extra - ticks[i], b = extra - ticks[best];
    if ((d < 0 ? -d : d) < (b < 0 ? -b : b)) best = i;
  }
  return ticks[best];
}

void amber_itimers_after_restore(void) {
  /* measured first: the probe would clear a VIRTUAL interval already set back */
  int armed = us(&amber_ckpt.itimers[ITIMER_VIRTUAL][2]) || us(&amber_ckpt.itimers[ITIMER_PROF][2]);
  int64_t tick = armed ? added_tick() : 0;
  for (int which = 0; which < 3; which++) {
    uint64_t it[4];
    for (int i = 0; i < 4; i++) it[i] = amber_ckpt.itimers[which][i];
    if (!(it[0] | it[1] | it[2] | it[3])) continue;
    int64_t value = us(&it[2]);
    if (which != ITIMER_REAL && value) {
      value = value > tick ? value - tick : 1; /* at least 1 µs: 0 would disarm it */
      it[2] = (uint64_t)(value / US);
      it[3] = (uint64_t)(value % US);
    }
    amber_sys3(SYS_setitimer, which, it, 0);
  }
}
