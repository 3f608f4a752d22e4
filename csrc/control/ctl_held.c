/* A migration's hand-off (docs/migration.md): the target restores its copy held, and lets it go
 * on only once the source has committed; the source's held original outlives its coordinator
 * once the outcome is recorded, so that it cannot go on after the target's copy has. */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../common/table.h"
#include "control.h"

#define API __attribute__((visibility("default")))

/* Before the supervisor starts: restored processes wait in their agent while `held` is set.
 * Cleared: they go on (FUTEX_WAKE, shared: the word is in the mapped tables). */
API int32_t amber_ctl_set_held(void *table, int32_t held) {
  struct amber_table *t = table;
  __atomic_store_n(&t->held, held ? 1u : 0u, __ATOMIC_RELEASE);
  if (!held) {
    syscall(SYS_futex, &t->held, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
    amber_ctl_wait_stops(t, 2000); /* a SIGCONT sent next must find them stopped */
  }
  return 0;
}

API int32_t amber_ctl_held(void *table) {
  return (int32_t)__atomic_load_n(&((struct amber_table *)table)->held, __ATOMIC_ACQUIRE);
}

/* A held snapshot whose coordinator dies is abandoned and its processes go on
 * (preload/agent/agent.c, wait_phase_change); once a migration has committed they must not: they stay
 * frozen until ended. */
API int32_t amber_ctl_disown_held(void *table) {
  struct amber_ctl *c = &((struct amber_table *)table)->ctl;
  if (__atomic_load_n(&c->phase, __ATOMIC_ACQUIRE) != AMBER_PHASE_WRITE) return -EINVAL;
  __atomic_store_n(&c->coordinator, 0, __ATOMIC_RELEASE);
  /* A thread seized for the snapshot would run on once its tracer, this process, is gone. */
  amber_ctl_seize_release(table, 1);
  return 0;
}

/* The snapshot protocol's phase (enum amber_ctl_phase). */
API int32_t amber_ctl_phase(void *table) {
  return (int32_t)__atomic_load_n(&((struct amber_table *)table)->ctl.phase, __ATOMIC_ACQUIRE);
}
