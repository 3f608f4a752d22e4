/* The leader's spin for the coordinator's next phase (agent_spin.h). Only a snapshot of one
 * process: several agents spinning would take the CPUs the coordinator needs. Runs in the
 * handler: raw system calls. */
#include "../../common/spin.h"
#include "agent.h"
#include "agent_spin.h"

#define SPIN_NS 3000000 /* the coordinator's part between two phases takes ~1 ms when quiet */

int amber_agent_spin(const uint32_t *word, uint32_t seen) {
  if (__atomic_load_n(&amber.table->ctl.nslots, __ATOMIC_ACQUIRE) != 1) return 0;
  uint64_t mask[16];
  long bytes = amber_sys3(SYS_sched_getaffinity, 0, sizeof mask, mask);
  if (bytes <= 0 || !amber_cpus_two(mask, bytes)) return 0;
  return amber_spin_while(word, seen, amber_monotonic_ns, SPIN_NS);
}
