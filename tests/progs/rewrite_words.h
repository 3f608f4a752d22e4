/* What the programs that rewrite their memory during a snapshot share: the system thread ID,
 * and the word a page holds in a given generation (so that a checksum says which one it is). */
#ifndef AMBER_TEST_REWRITE_WORDS_H
#define AMBER_TEST_REWRITE_WORDS_H

#include <stdint.h>
#include <sys/syscall.h>

#include "marked_calls.h"

/* The system thread ID: with Amber's magic in r9, past its seccomp layer (docs/seccomp.md),
 * which would answer the virtual one, the same after a restore. */
static long raw_gettid(void) { return marked(SYS_gettid, 0, 0, 0, 0); }

static inline uint64_t word(uint64_t gen, uint64_t i) {
  uint64_t x = gen * 0x9e3779b97f4a7c15ULL ^ (i + 1) * 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 31;
  return x * 0x94d049bb133111ebULL;
}

#endif
