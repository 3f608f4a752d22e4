/* Where the checkpoint handler runs. The handler is installed with SA_ONSTACK: on a thread
 * with an alternate signal stack it starts there. Go gives each of its threads one of 32 KiB,
 * and must be obeyed: a goroutine's own stack is a few KiB among others in the heap, and the
 * agent's frames (several KiB) plus the kernel's signal frame ran past its end into the next
 * goroutine's stack or a free stack's link, and the program crashed later, running or
 * restored. An alternate stack too small for the agent (a Rust thread's 8 KiB, Python's
 * faulthandler's) is left for the stack the signal interrupted, as a handler without
 * SA_ONSTACK would have run. A thread without an alternate stack runs where it was. */
#include <signal.h>
#include <ucontext.h>

#include "agent.h"

/* The agent's deepest path needs under 6 KiB (measured with a filled stack); a margin. */
#define AGENT_STACK_NEED (16 << 10)
/* Below the interrupted frame's red zone, which the x86-64 ABI lets a leaf function use. */
#define RED_ZONE_GAP 256

void *amber_agent_stack(const void *uc) {
  stack_t ss;
  if (amber_sys2(SYS_sigaltstack, 0, &ss) || !(ss.ss_flags & SS_ONSTACK)) return 0;
  uintptr_t low = (uintptr_t)ss.ss_sp, high = low + ss.ss_size;
  uintptr_t here = (uintptr_t)__builtin_frame_address(0);
  if (here - low >= AGENT_STACK_NEED) return 0; /* room enough where it is */
  uintptr_t interrupted = (uintptr_t)((const ucontext_t *)uc)->uc_mcontext.gregs[REG_RSP];
  if (interrupted >= low && interrupted < high) return 0; /* nowhere better to go */
  return (void *)(interrupted - RED_ZONE_GAP);
}
