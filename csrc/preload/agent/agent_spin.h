/* The leader's waits for the coordinator's next phase, spun first (common/spin.h). */
#ifndef AMBER_AGENT_SPIN_H
#define AMBER_AGENT_SPIN_H

#include <stdint.h>

/* 1 once the futex word *word is no longer `seen`, within a few ms; 0 if not, or if spinning
 * is not for this snapshot (more processes than one, or one CPU): then wait on the futex. */
int amber_agent_spin(const uint32_t *word, uint32_t seen);

#endif
