/* Amber's seccomp filter, built and installed the same way by the library (a new application)
 * and by the restorer (a restored process): classic BPF over struct seccomp_data. A call that
 * is not watched (seccomp_calls.h) is allowed after the architecture check and one compare per
 * watched number; a watched one carrying AMBER_SECCOMP_MAGIC in its sixth register is Amber's
 * and allowed; any other is trapped (SIGSYS, handled in the library's seccomp.c) as its kind
 * says. No libc: the restorer has none. */
#ifndef AMBER_SECCOMP_FILTER_H
#define AMBER_SECCOMP_FILTER_H

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>

#include "sys.h"

#define AMBER_SECCOMP_MAX_INSNS 4096 /* BPF_MAXINSNS */
#define AMBER_VIRTUAL_PID_MIN 4200000u    /* AMBER_VPID_MIN */
#define AMBER_VIRTUAL_NEG_MAX 0xffbfe9c0u /* (uint32_t)-4200000: a virtual group for kill */

/* Jump targets resolved at the end of a block (real offsets inside a block stay small). */
#define AMBER_BPF_ALLOW 0xfd
#define AMBER_BPF_TRAP 0xfe
#define AMBER_BPF_PROBE 0xfc

struct amber_bpf {
  struct sock_filter *code;
  int n;
};

static inline void amber_bpf_put(struct amber_bpf *b, uint16_t code, uint8_t jt, uint8_t jf,
                                 uint32_t k) {
  b->code[b->n].code = code;
  b->code[b->n].jt = jt;
  b->code[b->n].jf = jf;
  b->code[b->n].k = k;
  b->n++;
}

static inline uint32_t amber_bpf_arg(int i, int high) {
  return (uint32_t)(offsetof(struct seccomp_data, args) + 8 * i + (high ? 4 : 0));
}

/* A 64-bit argument equal to v: on to `yes`, else to the next instruction after the four. */
static inline void amber_bpf_arg_is(struct amber_bpf *b, int i, uint64_t v, uint8_t yes) {
  amber_bpf_put(b, BPF_LD | BPF_W | BPF_ABS, 0, 0, amber_bpf_arg(i, 0));
  amber_bpf_put(b, BPF_JMP | BPF_JEQ | BPF_K, 0, 2, (uint32_t)v);
  amber_bpf_put(b, BPF_LD | BPF_W | BPF_ABS, 0, 0, amber_bpf_arg(i, 1));
  amber_bpf_put(b, BPF_JMP | BPF_JEQ | BPF_K, yes, 0, (uint32_t)(v >> 32));
}

/* A pointer argument that is not NULL: to `yes`. */
static inline void amber_bpf_arg_set(struct amber_bpf *b, int i, uint8_t yes) {
  amber_bpf_put(b, BPF_LD | BPF_W | BPF_ABS, 0, 0, amber_bpf_arg(i, 0));
  amber_bpf_put(b, BPF_JMP | BPF_JEQ | BPF_K, 0, yes, 0);
  amber_bpf_put(b, BPF_LD | BPF_W | BPF_ABS, 0, 0, amber_bpf_arg(i, 1));
  amber_bpf_put(b, BPF_JMP | BPF_JEQ | BPF_K, 0, yes, 0);
}

/* One watched call: compare the number (in A), then its block, which ends in its own returns. */
static inline void amber_bpf_call(struct amber_bpf *b, long nr, int kind, int a0, int a1) {
  int head = b->n;
  amber_bpf_put(b, BPF_JMP | BPF_JEQ | BPF_K, 0, 0, (uint32_t)nr); /* jf set below */
  int start = b->n;
  if (kind == AMBER_TRAP_FUTEX) { /* the operation, without FUTEX_PRIVATE_FLAG and CLOCK_REALTIME */
    amber_bpf_put(b, BPF_LD | BPF_W | BPF_ABS, 0, 0, amber_bpf_arg(a0, 0));
    amber_bpf_put(b, BPF_ALU | BPF_AND | BPF_K, 0, 0, 0x7f);
    amber_bpf_put(b, BPF_JMP | BPF_JGE | BPF_K, 0, AMBER_BPF_ALLOW, 6 /* FUTEX_LOCK_PI */);
    amber_bpf_put(b, BPF_JMP | BPF_JGT | BPF_K, AMBER_BPF_ALLOW, 0, 13 /* FUTEX_LOCK_PI2 */);
    amber_bpf_put(b, BPF_JMP | BPF_JEQ | BPF_K, AMBER_BPF_ALLOW, 0, 9 /* WAIT_BITSET */);
    amber_bpf_put(b, BPF_JMP | BPF_JEQ | BPF_K, AMBER_BPF_ALLOW, 0, 10 /* WAKE_BITSET */);
  } else if (kind != AMBER_TRAP_ARGS6)
    amber_bpf_arg_is(b, 5, (uint64_t)AMBER_SECCOMP_MAGIC, AMBER_BPF_ALLOW);
  if (nr == SYS_getpid) amber_bpf_arg_is(b, 5, (uint64_t)AMBER_SECCOMP_PROBE, AMBER_BPF_PROBE);
  if (nr == SYS_prctl) { /* only PR_SET_PTRACER names a process */
    amber_bpf_put(b, BPF_LD | BPF_W | BPF_ABS, 0, 0, amber_bpf_arg(0, 0));
    amber_bpf_put(b, BPF_JMP | BPF_JEQ | BPF_K, 0, AMBER_BPF_ALLOW, 0x59616d61 /* PR_SET_PTRACER */);
  }
  if (kind == AMBER_TRAP_ARGS || kind == AMBER_TRAP_ARGS6) {
    int args[2] = {a0, a1};
    for (int i = 0; i < 2 && args[i] >= 0; i++) {
      amber_bpf_put(b, BPF_LD | BPF_W | BPF_ABS, 0, 0, amber_bpf_arg(args[i], 0));
      amber_bpf_put(b, BPF_JMP | BPF_JGE | BPF_K, 0, 1, AMBER_VIRTUAL_PID_MIN);
      amber_bpf_put(b, BPF_JMP | BPF_JGT | BPF_K, 0, AMBER_BPF_TRAP, AMBER_VIRTUAL_NEG_MAX);
    }
  } else if (kind == AMBER_TRAP_SIGACTION) {
    amber_bpf_arg_set(b, 1, AMBER_BPF_TRAP);
    amber_bpf_put(b, BPF_LD | BPF_W | BPF_ABS, 0, 0, amber_bpf_arg(0, 0));
    amber_bpf_put(b, BPF_JMP | BPF_JEQ | BPF_K, AMBER_BPF_TRAP, 0, 31 /* SIGSYS */);
    amber_bpf_put(b, BPF_JMP | BPF_JEQ | BPF_K, AMBER_BPF_TRAP, 0, 62 /* AMBER_CKPT_SIGNAL */);
    /* a read of the action from the program's own code: it is shown the program's handler,
     * not the library's trampoline that translates si_pid (seccomp.c) */
    amber_bpf_put(b, BPF_LD | BPF_W | BPF_ABS, 0, 0, amber_bpf_arg(2, 0));
    amber_bpf_put(b, BPF_JMP | BPF_JEQ | BPF_K, 0, 2, 0);
    amber_bpf_put(b, BPF_LD | BPF_W | BPF_ABS, 0, 0, amber_bpf_arg(2, 1));
    amber_bpf_put(b, BPF_JMP | BPF_JEQ | BPF_K, AMBER_BPF_ALLOW, 0, 0);
    amber_bpf_put(b, BPF_LD | BPF_W | BPF_ABS, 0, 0,
                  offsetof(struct seccomp_data, instruction_pointer) + 4);
    amber_bpf_put(b, BPF_JMP | BPF_JGE | BPF_K, AMBER_BPF_ALLOW, AMBER_BPF_TRAP,
                  (uint32_t)(AMBER_SECCOMP_LIBS_FROM >> 32));
  } else if (kind == AMBER_TRAP_CPUCLOCK) { /* from the program's code, on a CPU clock */
    amber_bpf_put(b, BPF_LD | BPF_W | BPF_ABS, 0, 0,
                  offsetof(struct seccomp_data, instruction_pointer) + 4);
    amber_bpf_put(b, BPF_JMP | BPF_JGE | BPF_K, AMBER_BPF_ALLOW, 0,
                  (uint32_t)(AMBER_SECCOMP_LIBS_FROM >> 32));
    amber_bpf_put(b, BPF_LD | BPF_W | BPF_ABS, 0, 0, amber_bpf_arg(a0, 0)); /* a clockid_t */
    amber_bpf_put(b, BPF_JMP | BPF_JSET | BPF_K, AMBER_BPF_TRAP, 0, 0x80000000u);
    amber_bpf_put(b, BPF_JMP | BPF_JEQ | BPF_K, AMBER_BPF_TRAP, 0, 2 /* PROCESS_CPUTIME */);
    amber_bpf_put(b, BPF_JMP | BPF_JEQ | BPF_K, AMBER_BPF_TRAP, 0, 3 /* THREAD_CPUTIME */);
  } else if (kind == AMBER_TRAP_FD) { /* the program's own code, a descriptor in the window */
    amber_bpf_put(b, BPF_LD | BPF_W | BPF_ABS, 0, 0, amber_bpf_arg(a0, 0));
    amber_bpf_put(b, BPF_JMP | BPF_JGE | BPF_K, 0, AMBER_BPF_ALLOW, AMBER_SIGNALFD_FD_MIN);
    amber_bpf_put(b, BPF_JMP | BPF_JGE | BPF_K, AMBER_BPF_ALLOW, 0,
                  AMBER_SIGNALFD_FD_MIN + AMBER_SIGNALFD_FDS);
    amber_bpf_put(b, BPF_LD | BPF_W | BPF_ABS, 0, 0,
                  offsetof(struct seccomp_data, instruction_pointer) + 4);
    amber_bpf_put(b, BPF_JMP | BPF_JGE | BPF_K, AMBER_BPF_ALLOW, AMBER_BPF_TRAP,
                  (uint32_t)(AMBER_SECCOMP_LIBS_FROM >> 32));
  } else if (kind == AMBER_TRAP_CMD) { /* the program's own code, a command naming a process */
    amber_bpf_put(b, BPF_LD | BPF_W | BPF_ABS, 0, 0,
                  offsetof(struct seccomp_data, instruction_pointer) + 4);
    amber_bpf_put(b, BPF_JMP | BPF_JGE | BPF_K, AMBER_BPF_ALLOW, 0,
                  (uint32_t)(AMBER_SECCOMP_LIBS_FROM >> 32));
    const unsigned *cmds;
    int ncmds = amber_seccomp_cmds(nr, &cmds);
    amber_bpf_put(b, BPF_LD | BPF_W | BPF_ABS, 0, 0, amber_bpf_arg(a0, 0));
    for (int i = 0; i < ncmds; i++)
      amber_bpf_put(b, BPF_JMP | BPF_JEQ | BPF_K, AMBER_BPF_TRAP, 0, cmds[i]);
  } else if (kind == AMBER_TRAP_SOCKOPT) { /* from anywhere: SO_PASSCRED, multicast */
    amber_bpf_put(b, BPF_LD | BPF_W | BPF_ABS, 0, 0, amber_bpf_arg(a0, 0));
    amber_bpf_put(b, BPF_JMP | BPF_JEQ | BPF_K, 0, 2, AMBER_SOL_SOCKET);
    amber_bpf_put(b, BPF_LD | BPF_W | BPF_ABS, 0, 0, amber_bpf_arg(a1, 0));
    amber_bpf_put(b, BPF_JMP | BPF_JEQ | BPF_K, AMBER_BPF_TRAP, AMBER_BPF_ALLOW, AMBER_SO_PASSCRED);
    amber_bpf_put(b, BPF_JMP | BPF_JEQ | BPF_K, 0, 3, AMBER_SOL_IP);
    amber_bpf_put(b, BPF_LD | BPF_W | BPF_ABS, 0, 0, amber_bpf_arg(a1, 0));
    amber_bpf_put(b, BPF_JMP | BPF_JGE | BPF_K, 0, AMBER_BPF_ALLOW, AMBER_IP_MCAST_FIRST);
    amber_bpf_put(b, BPF_JMP | BPF_JGT | BPF_K, AMBER_BPF_ALLOW, AMBER_BPF_TRAP, AMBER_IP_MCAST_LAST);
    amber_bpf_put(b, BPF_JMP | BPF_JEQ | BPF_K, 0, AMBER_BPF_ALLOW, AMBER_SOL_IPV6);
    amber_bpf_put(b, BPF_LD | BPF_W | BPF_ABS, 0, 0, amber_bpf_arg(a1, 0));
    amber_bpf_put(b, BPF_JMP | BPF_JGE | BPF_K, 0, 1, AMBER_MCAST_FIRST);
    amber_bpf_put(b, BPF_JMP | BPF_JGT | BPF_K, AMBER_BPF_ALLOW, AMBER_BPF_TRAP, AMBER_MCAST_LAST);
    amber_bpf_put(b, BPF_JMP | BPF_JGE | BPF_K, 0, 1, AMBER_IPV6_ANYCAST_FIRST);
    amber_bpf_put(b, BPF_JMP | BPF_JGT | BPF_K, 0, AMBER_BPF_TRAP, AMBER_IPV6_ANYCAST_LAST);
    amber_bpf_put(b, BPF_JMP | BPF_JGE | BPF_K, 0, AMBER_BPF_ALLOW, AMBER_IPV6_MCAST_FIRST);
    amber_bpf_put(b, BPF_JMP | BPF_JGT | BPF_K, AMBER_BPF_ALLOW, AMBER_BPF_TRAP, AMBER_IPV6_MCAST_LAST);
  } else if (kind == AMBER_TRAP_OWN || kind == AMBER_TRAP_PATH || kind == AMBER_TRAP_CLONE ||
             kind == AMBER_TRAP_FUTEX) {
    /* from a shared library (libc): allowed */
    amber_bpf_put(b, BPF_LD | BPF_W | BPF_ABS, 0, 0,
                  offsetof(struct seccomp_data, instruction_pointer) + 4);
    amber_bpf_put(b, BPF_JMP | BPF_JGE | BPF_K, AMBER_BPF_ALLOW, 0,
                  (uint32_t)(AMBER_SECCOMP_LIBS_FROM >> 32));
    if (kind == AMBER_TRAP_CLONE) { /* one with a TLS of its own passes (pthread's) */
      amber_bpf_put(b, BPF_LD | BPF_W | BPF_ABS, 0, 0, amber_bpf_arg(0, 0));
      amber_bpf_put(b, BPF_JMP | BPF_JSET | BPF_K, AMBER_BPF_ALLOW, AMBER_BPF_TRAP,
                    0x00080000 /* CLONE_SETTLS */);
    } else {
      amber_bpf_put(b, BPF_JMP | BPF_JA, 0, 0, 1); /* over ALLOW */
    }
  } else { /* AMBER_TRAP_SIGMASK: every one, as the program reads its mask too */
    amber_bpf_put(b, BPF_JMP | BPF_JA, 0, 0, 1);
  }
  int allow = b->n;
  amber_bpf_put(b, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
  int trap = b->n;
  amber_bpf_put(b, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_TRAP | AMBER_SECCOMP_TRAP_DATA);
  int probe = b->n;
  amber_bpf_put(b, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ERRNO | AMBER_SECCOMP_PROBE_ERRNO);
  for (int i = start; i < allow; i++) {
    struct sock_filter *f = &b->code[i];
    int to[3] = {allow, trap, probe};
    uint8_t mark[3] = {AMBER_BPF_ALLOW, AMBER_BPF_TRAP, AMBER_BPF_PROBE};
    for (int m = 0; m < 3; m++) {
      if (BPF_CLASS(f->code) != BPF_JMP || BPF_OP(f->code) == BPF_JA) continue;
      if (f->jt == mark[m]) f->jt = (uint8_t)(to[m] - i - 1);
      if (f->jf == mark[m]) f->jf = (uint8_t)(to[m] - i - 1);
    }
  }
  b->code[head].jf = (uint8_t)(b->n - head - 1);
}

/* The whole program into code[AMBER_SECCOMP_MAX_INSNS]: its length. */
static inline int amber_seccomp_build(struct sock_filter *code) {
  struct amber_bpf b = {code, 0};
  amber_bpf_put(&b, BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, arch));
  amber_bpf_put(&b, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, AUDIT_ARCH_X86_64);
  amber_bpf_put(&b, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
  amber_bpf_put(&b, BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, nr));
#define AMBER_SECCOMP_BLOCK(nr, kind, a, b_) amber_bpf_call(&b, nr, kind, a, b_);
  AMBER_SECCOMP_CALLS(AMBER_SECCOMP_BLOCK)
#undef AMBER_SECCOMP_BLOCK
  amber_bpf_put(&b, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
  return b.n;
}

/* Installs the filter in the calling thread (and with SECCOMP_FILTER_FLAG_TSYNC in `flags`, in
 * every thread of the process). SPEC_ALLOW: a filter must not turn on the speculative store
 * bypass mitigation, which would slow the whole program down. 0 or -errno. */
static inline long amber_seccomp_load(struct sock_filter *code, int n, unsigned flags) {
  struct sock_fprog prog;
  prog.len = (unsigned short)n;
  prog.filter = code;
  return amber_sys3(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                    flags | SECCOMP_FILTER_FLAG_SPEC_ALLOW, &prog);
}

static inline long amber_seccomp_install(unsigned flags) {
  static struct sock_filter code[AMBER_SECCOMP_MAX_INSNS];
  return amber_seccomp_load(code, amber_seccomp_build(code), flags);
}

/* Is Amber's filter on this thread? */
static inline int amber_seccomp_present(void) {
  return amber_sys6(SYS_getpid, 0, 0, 0, 0, 0, AMBER_SECCOMP_PROBE) == -AMBER_SECCOMP_PROBE_ERRNO;
}

#endif
