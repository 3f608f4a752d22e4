/* A system call made raw from the program's own code, as Go's runtime makes them: the seccomp
 * layer sees it as the program's (r9 holds no mark of Amber's). */
#ifndef AMBER_TEST_RAW_CALL_H
#define AMBER_TEST_RAW_CALL_H

static inline long raw_call(long n, long a, long b, long c, long d) {
  long ret;
  register long r10 __asm__("r10") = d;
  register long r9 __asm__("r9") = 0x1234;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}

/* The same with a fifth argument (r8). */
static inline long raw_call5(long n, long a, long b, long c, long d, long e) {
  long ret;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = 0x1234;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}

#endif
