/* A thread that spins with every signal blocked and looks at its own mask on every turn: it
 * fails at once if it ever sees another (a snapshot that stopped it from outside must not show
 * it one). */
#ifndef AMBER_TEST_DEAF_SPINNER_H
#define AMBER_TEST_DEAF_SPINNER_H

#include <signal.h>
#include <stdint.h>

#include "check.h"

/* The kernel never keeps SIGKILL and SIGSTOP blocked. */
#define ALL_BLOCKED (~0ULL & ~((1ULL << (SIGKILL - 1)) | (1ULL << (SIGSTOP - 1))))

static volatile long turns;

static inline void spin_deaf(uint64_t (*own_mask)(void)) {
  for (;;) {
    uint64_t mask = own_mask();
    CHECK(mask == ALL_BLOCKED, "the spinner's mask is %llx after %ld turns",
          (unsigned long long)mask, turns);
    turns++;
  }
}

#endif
