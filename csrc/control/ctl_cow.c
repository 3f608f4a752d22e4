/* The coordinator's side of a copy-on-write snapshot (csrc/preload/agent/agent_cow.c): each process
 * that said CAPTURED has a copy of itself writing its file, whose pid its agent put in
 * table->cow_writer. While the coordinator waits for WRITTEN, that copy is what must stay
 * alive, not the process, which runs on (and may exit: its file is still the state at the
 * freeze). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../common/proc.h"
#include "../common/table.h"
#include "control.h"

/* A snapshot's copies still write (its coordinator waits for them, or gave up and they are
 * giving up too): the next snapshot waits, or it would take their slots. */
int amber_cow_writers_busy(struct amber_table *t) {
  for (uint32_t i = 0; i < AMBER_CTL_MAX_PROCS; i++) {
    int32_t pid = __atomic_load_n(&t->cow_writer[i], __ATOMIC_ACQUIRE);
    if (!pid) continue;
    if (!amber_pid_gone(pid)) return 1;
    t->cow_writer[i] = 0;
  }
  return 0;
}

/* 1 while the slot's copy writes; -EIO, its slot FAILED and saying why, once it is gone
 * without a word (killed, out of memory). */
int amber_cow_writer_status(struct amber_table *t, uint32_t slot) {
  struct amber_agent_slot *s = &t->ctl.slots[slot];
  int32_t pid = __atomic_load_n(&t->cow_writer[slot], __ATOMIC_ACQUIRE);
  if (pid > 0 && !amber_pid_gone(pid)) return 1;
  if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != AMBER_AGENT_CAPTURED) return 1; /* said */
  snprintf(s->error, sizeof s->error,
           "process %d: the copy of it that wrote its memory after it resumed (pid %d) ended "
           "before its file was complete",
           s->vpid, pid);
  int32_t expected = AMBER_AGENT_CAPTURED;
  __atomic_compare_exchange_n(&s->state, &expected, AMBER_AGENT_FAILED, 0, __ATOMIC_ACQ_REL,
                              __ATOMIC_ACQUIRE);
  return -EIO;
}

/* Waits (at most timeout_ms) until no copy writes any more: after an abort, before the image
 * directory is removed or used again. 0, or -ETIMEDOUT. */
__attribute__((visibility("default"))) int32_t amber_ctl_wait_writers(void *table, int32_t timeout_ms) {
  for (int32_t waited = 0; amber_cow_writers_busy(table); waited += 5) {
    if (waited >= timeout_ms) return -ETIMEDOUT;
    usleep(5000);
  }
  return 0;
}
