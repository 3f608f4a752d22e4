/* System calls with Amber's own mark in r9, which its seccomp layer lets through unseen, as the
 * library's calls: a program blocks every signal with them behind Amber's back entirely. */
#ifndef AMBER_TEST_MARKED_CALLS_H
#define AMBER_TEST_MARKED_CALLS_H

#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>

#include "../../csrc/common/seccomp_calls.h"
#include "check.h"

static inline long marked(long nr, long a, long b, long c, long d) {
  long ret;
  register long r10 __asm__("r10") = d;
  register long r9 __asm__("r9") = AMBER_SECCOMP_MAGIC;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}

static inline uint64_t own_mask(void) {
  uint64_t mask = 0;
  marked(SYS_rt_sigprocmask, SIG_BLOCK, 0, (long)&mask, 8);
  return mask;
}

static inline void block_everything(void) {
  uint64_t all = ~0ULL;
  CHECK(marked(SYS_rt_sigprocmask, SIG_SETMASK, (long)&all, 0, 8) == 0, "rt_sigprocmask");
}

#endif
