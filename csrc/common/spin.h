/* A short wait by spinning, for the freeze's hand-offs between the coordinator and the agent
 * of a single process (the coordinator for FROZEN, the agent for WRITE and RESUME): the side
 * that waits keeps its CPU, where a futex wait gives it up and each wake-up costs 0.05-0.5 ms
 * on an idle virtual CPU and several ms on a loaded machine. Only where each side has a CPU of
 * its own. Not for CAPTURED: the agent's helper is made meanwhile, by a process that needs the
 * coordinator's CPU. Safe in the agent's handler. */
#ifndef AMBER_SPIN_H
#define AMBER_SPIN_H

#include <stdint.h>

/* 1 once *word is no longer `seen`; 0 when `ns` passed first (clock_ns: a monotonic clock). */
static inline int amber_spin_while(const uint32_t *word, uint32_t seen, int64_t (*clock_ns)(void),
                                   int64_t ns) {
  int64_t until = clock_ns() + ns;
  for (;;) {
    for (int i = 0; i < 64; i++) {
      if (__atomic_load_n(word, __ATOMIC_ACQUIRE) != seen) return 1;
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
    if (clock_ns() >= until) return 0;
  }
}

/* Whether the CPUs this thread may run on (sched_getaffinity's mask, `bytes` long) are two or
 * more. */
static inline int amber_cpus_two(const uint64_t *mask, long bytes) {
  int n = 0;
  for (long i = 0; i < bytes / 8; i++) n += __builtin_popcountll(mask[i]);
  return n >= 2;
}

#endif
