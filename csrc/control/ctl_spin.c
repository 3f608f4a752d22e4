/* The coordinator's spin for the agent's report at the freeze's barrier FROZEN (common/spin.h):
 * only for a snapshot of one process, and with two CPUs or more. */
#include <sched.h>

#include "clock.h"
#include "../common/spin.h"
#include "../common/table.h"
#include "control.h"

#define SPIN_NS 3000000 /* an agent freezes in 0.3 ms when quiet */

int amber_ctl_spin_report(struct amber_table *t, uint32_t seen) {
  if (__atomic_load_n(&t->ctl.nslots, __ATOMIC_ACQUIRE) != 1) return 0;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) || CPU_COUNT(&set) < 2) return 0;
  return amber_spin_while(&t->ctl.reports, seen, amber_ctl_now_ns, SPIN_NS);
}
