/* A migration's target restores its copy held (docs/migration.md): once back, each process's
 * leader waits here, inside the agent, with its followers waiting for it, until the source has
 * committed and the target's agent clears the word (control/ctl_held.c). The program does not
 * run a single instruction meanwhile; a copy that is ended instead never ran. */
#include "agent.h"

void amber_wait_held(void) {
  uint32_t *held = &amber.table->held;
  while (__atomic_load_n(held, __ATOMIC_ACQUIRE)) amber_futex_wait(held, 1, 1, 500);
}
