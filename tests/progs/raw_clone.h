/* A raw clone (the `syscall` instruction, r9 not Amber's mark) of a child that starts on `stack`
 * in `fn`, which never returns: the parent gets what the call returned. */
#ifndef AMBER_TEST_RAW_CLONE_H
#define AMBER_TEST_RAW_CLONE_H

#include <sys/syscall.h>

static inline long raw_clone(long flags, char *stack, void (*fn)(void)) {
  register long r10 __asm__("r10") = 0;
  register long r8 __asm__("r8") = 0;
  register long r9 __asm__("r9") = 0x1234;
  register long r12 __asm__("r12") = (long)fn;
  long ret;
  __asm__ volatile("syscall\n\t"
                   "test %%rax, %%rax\n\t"
                   "jnz 1f\n\t"
                   "xor %%ebp, %%ebp\n\t"
                   "call *%%r12\n\t"
                   "ud2\n"
                   "1:"
                   : "=a"(ret)
                   : "0"((long)SYS_clone), "D"(flags), "S"(stack), "d"(0L), "r"(r10), "r"(r8),
                     "r"(r9), "r"(r12)
                   : "rcx", "r11", "memory");
  return ret;
}

#endif
