/* A thread seized by the coordinator (ctl_seize.c) for a snapshot instead of running the
 * checkpoint handler: it holds the signal off (it blocks every signal with the raw system call,
 * as Go's runtime does). The agent's leader offers one of these in the library's memory; the
 * coordinator, its tracer, writes the thread's state into it while the thread stays stopped
 * until the snapshot ends, and the leader turns it into the thread's record
 * (agent_seize.c). */
#ifndef AMBER_SEIZED_H
#define AMBER_SEIZED_H

#include <stdint.h>
#include <sys/user.h>

#include "image.h"

#define AMBER_SEIZED_XSTATE 8192 /* NT_X86_XSTATE: 2.7 KiB with AVX-512; AMX needs more */

struct amber_seized {
  /* Set by the agent before it asks. */
  uint64_t gadget; /* a `syscall` instruction in the library, for the calls made in the thread */
  uint64_t scratch[8]; /* memory in the process for those calls' arguments and answers */
  /* Set by the coordinator. */
  int32_t seized;  /* 1: the thread is stopped, this holds its state */
  int32_t xstate_len;
  struct user_regs_struct regs; /* at the stop, a system call it was in made to restart */
  uint64_t orig_ax, interrupted_ax; /* the call it was in (or -1), and what it had returned */
  uint64_t mask;
  uint64_t altstack_sp, altstack_size;
  int32_t altstack_flags;
  uint32_t rseq_len, rseq_sig, pad;
  uint64_t rseq_addr;
  struct amber_pending pending; /* its own queue; si_pid as the kernel has it */
  uint8_t xstate[AMBER_SEIZED_XSTATE] __attribute__((aligned(64)));
  /* Its own flags (prctl and personality(2) change only the calling thread), asked in it. */
  int32_t flags_read; /* 1: these four hold */
  int32_t nnp, personality, pdeathsig;
  uint64_t gs_base;
  /* Its clear_child_tid (PR_GET_TID_ADDRESS, asked in it; agent_flags.c), when tid_addr_read. */
  uint64_t tid_addr;
  int32_t tid_addr_read, pad2;
};

#endif
