/* Amber's second seccomp filter, stacked on the first (seccomp_filter.h) only in a process that
 * turned SO_PASSCRED on (kernel/trap_creds.c), so that a program that never asks for
 * credentials runs no more than the first: it traps sendmsg, recvmsg, sendmmsg and recvmmsg
 * made from the program's own code, whose SCM_CREDENTIALS control messages carry pids the first
 * filter cannot see, and answers a probe of its own. Amber's own calls of them carry the magic
 * (sys.h); libc's pass by their address (the library's wrappers translate them). Installed by
 * the library and by the restorer (AMBER_SECCOMP_CREDS in the process image). No libc. */
#ifndef AMBER_SECCOMP_CREDS_H
#define AMBER_SECCOMP_CREDS_H

#include "seccomp_filter.h"

/* kcmp with AMBER_SECCOMP_PROBE in r9 (and no pid) fails with this only under the second filter.
 * kcmp, because the first filter reads its arguments already: the kernel's cache of calls a
 * filter always allows (which skip the filters) loses no call the first left in it but the
 * four this one traps. */
#define AMBER_SECCOMP_CREDS_PROBE_ERRNO 4043
#define AMBER_SECCOMP_CREDS_INSNS 23

/* The program into code[AMBER_SECCOMP_CREDS_INSNS]: its length. Other calls pass after the
 * architecture check and five compares. */
static inline int amber_seccomp_creds_build(struct sock_filter *code) {
  enum { CHECK = 10, PROBE = 16, ALLOW = 20, TRAP = 21, ERRNO = 22 };
  struct amber_bpf b = {code, 0};
#define AMBER_TO(label) ((uint8_t)((label) - b.n - 1))
  amber_bpf_put(&b, BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, arch));
  amber_bpf_put(&b, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, AUDIT_ARCH_X86_64);
  amber_bpf_put(&b, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
  amber_bpf_put(&b, BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, nr));
  amber_bpf_put(&b, BPF_JMP | BPF_JEQ | BPF_K, AMBER_TO(CHECK), 0, SYS_sendmsg);
  amber_bpf_put(&b, BPF_JMP | BPF_JEQ | BPF_K, AMBER_TO(CHECK), 0, SYS_recvmsg);
  amber_bpf_put(&b, BPF_JMP | BPF_JEQ | BPF_K, AMBER_TO(CHECK), 0, SYS_recvmmsg);
  amber_bpf_put(&b, BPF_JMP | BPF_JEQ | BPF_K, AMBER_TO(CHECK), 0, SYS_sendmmsg);
  amber_bpf_put(&b, BPF_JMP | BPF_JEQ | BPF_K, AMBER_TO(PROBE), 0, SYS_kcmp);
  amber_bpf_put(&b, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
  /* CHECK: Amber's own (the magic), or a shared library's (libc's): allowed */
  amber_bpf_arg_is(&b, 5, (uint64_t)AMBER_SECCOMP_MAGIC, AMBER_TO(ALLOW) - 3);
  amber_bpf_put(&b, BPF_LD | BPF_W | BPF_ABS, 0, 0,
                offsetof(struct seccomp_data, instruction_pointer) + 4);
  amber_bpf_put(&b, BPF_JMP | BPF_JGE | BPF_K, AMBER_TO(ALLOW), AMBER_TO(TRAP),
                (uint32_t)(AMBER_SECCOMP_LIBS_FROM >> 32));
  /* PROBE */
  amber_bpf_arg_is(&b, 5, (uint64_t)AMBER_SECCOMP_PROBE, AMBER_TO(ERRNO) - 3);
  amber_bpf_put(&b, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
  amber_bpf_put(&b, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_TRAP | AMBER_SECCOMP_TRAP_DATA);
  amber_bpf_put(&b, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ERRNO | AMBER_SECCOMP_CREDS_PROBE_ERRNO);
#undef AMBER_TO
  return b.n;
}

/* Stacks it on the calling thread's filters (every thread's with SECCOMP_FILTER_FLAG_TSYNC in
 * `flags`: then a positive thread ID when one of them cannot take it). 0 or -errno. */
static inline long amber_seccomp_creds_install(unsigned flags) {
  struct sock_filter code[AMBER_SECCOMP_CREDS_INSNS];
  return amber_seccomp_load(code, amber_seccomp_creds_build(code), flags);
}

/* Is Amber's second filter on this thread? */
static inline int amber_seccomp_creds_present(void) {
  return amber_sys6(SYS_kcmp, 0, 0, 0, 0, 0, AMBER_SECCOMP_PROBE) ==
         -AMBER_SECCOMP_CREDS_PROBE_ERRNO;
}

#endif
