/* The libraries' filter: stacked on Amber's first (seccomp_filter.h), which lets every call
 * from above AMBER_SECCOMP_LIBS_FROM through (libc's, which the wrappers translate already), it
 * traps the same calls when they come from the code of a shared library other than libc, the
 * dynamic loader, the vDSO and Amber's (a Go library's runtime, inline assembly): each such
 * library's executable segment is a range here. Filters stay across exec while libraries move,
 * so the ranges cannot be the complement of libc's: after an exec a stale range traps only what
 * now lies there, and the handler lets libc's calls through by their address (seccomp.c).
 *
 * The numbers come first, so that the kernel's cache still lets every other call through
 * without running the filter; then the ranges (an address outside them is allowed); then the
 * first filter's blocks, every call taken as the program's own. Each such filter has an index
 * (how many were there before it), which a probe names (kcmp with AMBER_SECCOMP_LIBS_PROBE in
 * r9 and the index in rdi fails with AMBER_SECCOMP_LIBS_PROBE_ERRNO), so that a snapshot can
 * count them. Installed by the library (kernel/seccomp_libs.c) and by the restorer. No libc. */
#ifndef AMBER_SECCOMP_LIBS_H
#define AMBER_SECCOMP_LIBS_H

#include "image.h"
#include "seccomp_filter.h"

#define AMBER_SECCOMP_LIBS_PROBE 0x416d6265725f6c62L /* "Amber_lb" */
#define AMBER_SECCOMP_LIBS_PROBE_ERRNO 4044
#define AMBER_SECCOMP_LIBS_MAX_RANGES AMBER_LIBS_RANGES /* image.h */
#define AMBER_SECCOMP_LIBS_MAX 64 /* filters of this kind a process may stack */

/* Kinds whose trap depends on where the call comes from; the others (a pid argument in the
 * virtual range, the mask, SO_PASSCRED) the first filter traps from anywhere. */
static inline int amber_seccomp_libs_kind(int kind) {
  return kind != AMBER_TRAP_ARGS && kind != AMBER_TRAP_ARGS6 && kind != AMBER_TRAP_SIGMASK &&
         kind != AMBER_TRAP_PASSCRED;
}

/* Calls libc makes often (a call from libc runs this filter's compares of the number until it
 * meets its own, then those of the ranges, and passes). */
static inline int amber_seccomp_libs_hot(long nr) {
  return nr == SYS_read || nr == SYS_futex || nr == SYS_ioctl || nr == SYS_fcntl ||
         nr == SYS_openat || nr == SYS_newfstatat || nr == SYS_statx || nr == SYS_clock_nanosleep ||
         nr == SYS_sendmsg || nr == SYS_getsockopt || nr == SYS_rt_sigaction || nr == SYS_wait4;
}

/* One range [lo, hi): the address (64 bits, in two words) inside it goes to `inside` (an
 * absolute instruction index), else on past the ten instructions. */
static inline void amber_bpf_range(struct amber_bpf *b, uint64_t lo, uint64_t hi, int inside) {
  const uint32_t ip_lo = offsetof(struct seccomp_data, instruction_pointer);
  const uint32_t ip_hi = ip_lo + 4;
  int at = b->n, next = at + 10;
#define AMBER_REL(to, from) ((uint8_t)((to) - (from)-1))
  amber_bpf_put(b, BPF_LD | BPF_W | BPF_ABS, 0, 0, ip_hi);                             /* 0 */
  amber_bpf_put(b, BPF_JMP | BPF_JGT | BPF_K, AMBER_REL(at + 5, at + 1), 0, lo >> 32); /* 1 */
  amber_bpf_put(b, BPF_JMP | BPF_JEQ | BPF_K, 0, AMBER_REL(next, at + 2), lo >> 32);   /* 2 */
  amber_bpf_put(b, BPF_LD | BPF_W | BPF_ABS, 0, 0, ip_lo);                             /* 3 */
  amber_bpf_put(b, BPF_JMP | BPF_JGE | BPF_K, 0, AMBER_REL(next, at + 4), (uint32_t)lo); /* 4 */
  amber_bpf_put(b, BPF_LD | BPF_W | BPF_ABS, 0, 0, ip_hi);                             /* 5 */
  amber_bpf_put(b, BPF_JMP | BPF_JGT | BPF_K, AMBER_REL(next, at + 6), 0, hi >> 32);   /* 6 */
  amber_bpf_put(b, BPF_JMP | BPF_JEQ | BPF_K, 0, AMBER_REL(inside, at + 7), hi >> 32); /* 7 */
  amber_bpf_put(b, BPF_LD | BPF_W | BPF_ABS, 0, 0, ip_lo);                             /* 8 */
  amber_bpf_put(b, BPF_JMP | BPF_JGE | BPF_K, AMBER_REL(next, at + 9), AMBER_REL(inside, at + 9),
                (uint32_t)hi); /* 9 */
#undef AMBER_REL
}

/* The program into code[AMBER_SECCOMP_MAX_INSNS], for ranges[n][2] and this filter's index:
 * its length, or 0 if there are too many ranges. */
static inline int amber_seccomp_libs_build(struct sock_filter *code, const uint64_t (*ranges)[2],
                                           int n, uint32_t index) {
  if (n > AMBER_SECCOMP_LIBS_MAX_RANGES) return 0;
  struct amber_bpf b = {code, 0};
  amber_bpf_put(&b, BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, arch));
  amber_bpf_put(&b, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, AUDIT_ARCH_X86_64);
  amber_bpf_put(&b, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
  amber_bpf_put(&b, BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, nr));
  /* the numbers, the hot ones first: each on to the ranges (resolved below), kcmp to the probe */
  int first = b.n;
  for (int hot = 1; hot >= 0; hot--) {
#define AMBER_SECCOMP_NUMBER(nr, kind, a, b_)                                                    \
  if (amber_seccomp_libs_kind(kind) && amber_seccomp_libs_hot(nr) == hot)                        \
    amber_bpf_put(&b, BPF_JMP | BPF_JEQ | BPF_K, 0, 0, nr);
    AMBER_SECCOMP_CALLS(AMBER_SECCOMP_NUMBER)
#undef AMBER_SECCOMP_NUMBER
  }
  int numbers_end = b.n;
  amber_bpf_put(&b, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, SYS_kcmp);
  amber_bpf_put(&b, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
  /* the probe: kcmp(index, ...) with the probe value in r9 */
  amber_bpf_arg_is(&b, 5, (uint64_t)AMBER_SECCOMP_LIBS_PROBE, 1);
  amber_bpf_put(&b, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
  amber_bpf_arg_is(&b, 0, index, 1);
  amber_bpf_put(&b, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
  amber_bpf_put(&b, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ERRNO | AMBER_SECCOMP_LIBS_PROBE_ERRNO);
  int ranges_at = b.n;
  if (ranges_at - first > 255) return 0;
  for (int i = first; i < numbers_end; i++) code[i].jt = (uint8_t)(ranges_at - i - 1);
  int body = ranges_at + 10 * n + 1;
  for (int i = 0; i < n; i++) amber_bpf_range(&b, ranges[i][0], ranges[i][1], body);
  amber_bpf_put(&b, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
  /* the blocks, as in the first filter, every call the program's own */
  amber_bpf_put(&b, BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, nr));
#define AMBER_SECCOMP_BLOCK(nr, kind, a, b_)                                                     \
  if (amber_seccomp_libs_kind(kind)) amber_bpf_call(&b, nr, kind, a, b_, 1);
  AMBER_SECCOMP_CALLS(AMBER_SECCOMP_BLOCK)
#undef AMBER_SECCOMP_BLOCK
  amber_bpf_put(&b, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
  return b.n;
}

static inline long amber_seccomp_libs_install(const uint64_t (*ranges)[2], int n, uint32_t index,
                                              unsigned flags) {
  static struct sock_filter code[AMBER_SECCOMP_MAX_INSNS];
  int len = amber_seccomp_libs_build(code, ranges, n, index);
  return len ? amber_seccomp_load(code, len, flags) : -7 /* E2BIG */;
}

/* How many of these filters the calling thread has: their indexes are 0, 1, ... */
static inline int amber_seccomp_libs_count(void) {
  int n = 0;
  while (n < AMBER_SECCOMP_LIBS_MAX &&
         amber_sys6(SYS_kcmp, n, 0, 0, 0, 0, AMBER_SECCOMP_LIBS_PROBE) ==
             -AMBER_SECCOMP_LIBS_PROBE_ERRNO)
    n++;
  return n;
}

#endif
