/* Raw system calls for code that must not go through libc: the interposition library's own
 * plumbing (libc's symbols may be our wrappers), the checkpoint agent in a signal handler, and
 * the restorer, which runs with no libc at all. Each returns the kernel's value: -errno on
 * failure. */
#ifndef AMBER_SYS_H
#define AMBER_SYS_H

#include <stdint.h>
#include <sys/syscall.h>

#include "seccomp_calls.h"

static inline long amber_sys6(long n, long a, long b, long c, long d, long e, long f) {
  long ret;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  /* r9 is cleared after the call: a libc function that leaves it as it finds it must not pass
   * the seccomp filter with the magic a call of Amber's left there (seccomp_calls.h). */
  __asm__ volatile("syscall\n\txor %%r9d, %%r9d"
                   : "=a"(ret), "+r"(r9)
                   : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
                   : "rcx", "r11", "memory");
  return ret;
}

/* The calls Amber's seccomp filter watches carry its magic in the sixth register, unused by
 * them, so that Amber's own calls pass the filter (seccomp_calls.h); other calls get 0 there. */
#define AMBER_ARG6(n) (amber_seccomp_watched(n) ? AMBER_SECCOMP_MAGIC : 0)
#define amber_sys0(n) amber_sys6((n), 0, 0, 0, 0, 0, AMBER_ARG6(n))
#define amber_sys1(n, a) amber_sys6((n), (long)(a), 0, 0, 0, 0, AMBER_ARG6(n))
#define amber_sys2(n, a, b) amber_sys6((n), (long)(a), (long)(b), 0, 0, 0, AMBER_ARG6(n))
#define amber_sys3(n, a, b, c)                                                                   \
  amber_sys6((n), (long)(a), (long)(b), (long)(c), 0, 0, AMBER_ARG6(n))
#define amber_sys4(n, a, b, c, d)                                                                \
  amber_sys6((n), (long)(a), (long)(b), (long)(c), (long)(d), 0, AMBER_ARG6(n))
#define amber_sys5(n, a, b, c, d, e)                                                             \
  amber_sys6((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), AMBER_ARG6(n))

static inline int amber_sys_getpid(void) { return (int)amber_sys0(SYS_getpid); }
static inline int amber_sys_gettid(void) { return (int)amber_sys0(SYS_gettid); }
static inline int amber_sys_getppid(void) { return (int)amber_sys0(SYS_getppid); }

#endif
