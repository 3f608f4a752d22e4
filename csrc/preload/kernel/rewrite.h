/* The fast path of the kernel-side layer (docs/seccomp.md, "Rewritten sites"): a program's
 * syscall site that trapped once jumps from then on to a trampoline that makes the call through
 * the library's translation without a signal. rewrite.c learns and patches sites, rewrite_entry.S
 * is the entry the trampolines jump to. */
#ifndef AMBER_REWRITE_H
#define AMBER_REWRITE_H

#include <stdint.h>
#include <sys/ucontext.h>

#define AMBER_RW_NR_MAX 512 /* the numbers the entry looks up in its bitmap */

/* What the entry pushed on the thread's own stack, lowest first: the call as the site made it. */
struct amber_rw_frame {
  long nr;   /* back: the result, or the number again when the call goes to the site's syscall */
  long a[6]; /* rdi, rsi, rdx, r10, r8, r9 */
  long flags;
  long rip; /* the site's end (after its syscall); moved back onto the syscall to pass on */
};

/* Per thread, read by the entry through %fs (initial-exec TLS). */
struct amber_rw_thread {
  uint64_t stack_top; /* 0 until the thread's first trap gives it a stack */
  uint64_t busy;      /* on that stack now: a nested call (a signal handler's) takes the trap */
  uint64_t saved_rsp; /* the program's stack pointer */
};

extern int amber_rw_on;
extern uint64_t amber_rw_handled[AMBER_RW_NR_MAX / 64]; /* the entry's bitmap, by number */

/* From the SIGSYS handler after a trapped call made at the frame's RIP: gives the thread its
 * stack and patches the site if it can. */
void amber_rw_learn(long nr, const greg_t *g);
/* At start-up (every exec): on unless AMBER_SYSCALL_REWRITE=off or the CPU lacks XSAVE. */
void amber_rw_init(void);
/* seccomp.c: the trapped call's translation without a signal frame; 0 when it needs one. */
int amber_seccomp_direct(long nr, long a[6], uintptr_t ip, long *result);

#endif
