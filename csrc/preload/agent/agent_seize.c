/* A thread that holds the checkpoint signal off (it blocks every signal with the raw system
 * call) never runs the handler: the leader asks the coordinator to seize it (ctl_seize.c),
 * which stops it from outside for the whole snapshot and writes its state into a slot here.
 * The leader makes that the thread's record, with a signal frame built from its registers,
 * FPU and AVX state, mask and alternate stack, as the kernel would have built one: after a
 * restore the thread starts in amber_seized_entry (agent_seize.S), does what a follower does
 * after a restore, and returns to the program through rt_sigreturn on that frame, restarting
 * the system call it was in. In the running program nothing of this runs: the coordinator lets
 * the thread go, exactly as it was, once the snapshot ends. The slots live in the library's
 * memory, saved with it. */
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <ucontext.h>

#include "../../common/seized.h"
#include "agent.h"
#include "../kernel/raw_threads.h"

#define MAX_SEIZED 4
#define SEIZED_STACK 16384
#define FP_XSTATE_MAGIC1 0x46505853U
#define FP_XSTATE_MAGIC2 0x46505845U
#define ERESTART_RESTARTBLOCK 516
#define UC_FP_XSTATE 0x1
#define UC_SIGCONTEXT_SS 0x2
#define UC_STRICT_RESTORE_SS 0x4

struct rt_frame { /* the kernel's struct rt_sigframe */
  uint64_t pretcode;
  ucontext_t uc;
  siginfo_t info;
};
_Static_assert(offsetof(struct rt_frame, uc) == 8, "rt_sigframe layout");

static struct seized_slot {
  struct amber_seized state;
  uint8_t fpstate[AMBER_SEIZED_XSTATE + 64] __attribute__((aligned(64)));
  struct rt_frame frame;
  int32_t rec_index;
  char stack[SEIZED_STACK] __attribute__((aligned(16)));
} slots[MAX_SEIZED];
static int used;

extern char amber_seize_gadget[], amber_seized_entry[];

void amber_seize_begin(void) { used = 0; }

struct amber_seized *amber_seize_offer(void) {
  if (used == MAX_SEIZED) return NULL;
  struct amber_seized *s = &slots[used].state;
  s->gadget = (uint64_t)amber_seize_gadget;
  s->seized = 0;
  return s;
}

/* The kernel's sigreturn takes the FPU and AVX state in the XSAVE layout that ptrace gives
 * (NT_X86_XSTATE), whose software bytes hold XCR0; a signal frame's say instead what follows
 * (struct _fpx_sw_bytes), and the second magic word ends it. */
static uint64_t fpstate(struct seized_slot *slot, int *xstate) {
  const struct amber_seized *s = &slot->state;
  uint32_t len = s->xstate_len > 0 ? (uint32_t)s->xstate_len : 0;
  if (len < 512) return 0; /* the FPU starts clean */
  memcpy(slot->fpstate, s->xstate, len);
  *xstate = len > 512 + 64;
  if (*xstate) {
    uint64_t xcr0;
    memcpy(&xcr0, s->xstate + 464, 8);
    struct {
      uint32_t magic1, extended_size;
      uint64_t xfeatures;
      uint32_t xstate_size, padding[7];
    } sw = {FP_XSTATE_MAGIC1, len + 4, xcr0, len, {0}};
    memcpy(slot->fpstate + 464, &sw, sizeof sw);
    uint32_t magic2 = FP_XSTATE_MAGIC2;
    memcpy(slot->fpstate + len, &magic2, 4);
  }
  return (uint64_t)slot->fpstate;
}

/* A call the coordinator left to restart_syscall when it let the thread go (its registers
 * still hold the call's arguments): which call, by thread, so that a later snapshot that finds
 * the thread in restart_syscall, which a new thread cannot run, runs that call again instead. */
static struct restarted {
  int32_t tid;
  uint64_t nr, args[4];
} restarted[MAX_SEIZED * 4];

static uint64_t call_restarted(int32_t tid, const struct amber_seized *s) {
  const struct user_regs_struct *r = &s->regs;
  uint64_t args[4] = {r->rdi, r->rsi, r->rdx, r->r10};
  struct restarted *e = NULL;
  const unsigned n = sizeof restarted / sizeof *restarted;
  for (unsigned i = 0; i < n && !e; i++)
    if (restarted[i].tid == tid) e = &restarted[i];
  if (s->orig_ax == SYS_restart_syscall)
    return e && !memcmp(e->args, args, sizeof args) ? e->nr : s->orig_ax;
  for (unsigned i = 0; i < n && !e; i++)
    if (!restarted[i].tid) e = &restarted[i];
  if (e) *e = (struct restarted){tid, s->orig_ax, {args[0], args[1], args[2], args[3]}};
  return s->orig_ax;
}

static void build_frame(struct seized_slot *slot, int32_t tid) {
  const struct amber_seized *s = &slot->state;
  const struct user_regs_struct *r = &s->regs;
  struct rt_frame *f = &slot->frame;
  memset(f, 0, sizeof *f);
  greg_t *g = f->uc.uc_mcontext.gregs;
  g[REG_R8] = r->r8, g[REG_R9] = r->r9, g[REG_R10] = r->r10, g[REG_R11] = r->r11;
  g[REG_R12] = r->r12, g[REG_R13] = r->r13, g[REG_R14] = r->r14, g[REG_R15] = r->r15;
  g[REG_RDI] = r->rdi, g[REG_RSI] = r->rsi, g[REG_RBP] = r->rbp, g[REG_RBX] = r->rbx;
  g[REG_RDX] = r->rdx, g[REG_RAX] = r->rax, g[REG_RCX] = r->rcx, g[REG_RSP] = r->rsp;
  g[REG_RIP] = r->rip, g[REG_EFL] = r->eflags;
  g[REG_CSGSFS] = (r->cs & 0xffff) | (r->gs & 0xffff) << 16 | (r->fs & 0xffff) << 32 |
                  (uint64_t)(r->ss & 0xffff) << 48;
  /* A new thread has no restart block for restart_syscall: the call runs again, whole. */
  if ((long)s->interrupted_ax == -ERESTART_RESTARTBLOCK && (long)s->orig_ax >= 0)
    g[REG_RAX] = (greg_t)call_restarted(tid, s);
  int xstate = 0;
  f->uc.uc_mcontext.fpregs = (fpregset_t)fpstate(slot, &xstate);
  f->uc.uc_flags = UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS | (xstate ? UC_FP_XSTATE : 0);
  f->uc.uc_stack.ss_sp = (void *)s->altstack_sp;
  f->uc.uc_stack.ss_size = s->altstack_size;
  f->uc.uc_stack.ss_flags = s->altstack_flags & ~SS_ONSTACK;
  memcpy(&f->uc.uc_sigmask, &s->mask, sizeof s->mask);
}

int amber_seize_take(struct amber_seized *s, int32_t tid) {
  struct seized_slot *slot = (struct seized_slot *)((char *)s - offsetof(struct seized_slot, state));
  if (slot != &slots[used] || !s->seized) return 0;
  int index = __atomic_add_fetch(&amber_ckpt.nthreads, 1, __ATOMIC_ACQ_REL) - 1;
  if (index >= AMBER_MAX_THREADS) return 0;
  used++;
  slot->rec_index = index;
  build_frame(slot, tid);
  struct amber_thread_rec *rec = &amber_ckpt.threads[index];
  memset(rec, 0, sizeof *rec);
  rec->ctx.rbx = (uint64_t)(slot - slots);
  rec->ctx.rsp = (uint64_t)(slot->stack + SEIZED_STACK);
  rec->ctx.rip = (uint64_t)amber_seized_entry;
  amber_thread_capture_seized(rec, tid, s->regs.fs_base, &slot->frame.uc);
  if (s->flags_read)
    amber_flags_thread_seized(rec, s->nnp, s->personality, s->pdeathsig, s->gs_base);
  amber_flags_thread_seized_tid_addr(rec, s->tid_addr_read, s->tid_addr);
  rec->rseq_addr = s->rseq_addr;
  rec->rseq_len = s->rseq_len;
  rec->rseq_sig = s->rseq_sig;
  rec->altstack_sp = s->altstack_sp;
  rec->altstack_size = s->altstack_size;
  rec->altstack_flags = s->altstack_flags;
  rec->pending = s->pending;
  for (int i = 0; i < rec->pending.count && i < AMBER_MAX_PENDING; i++) {
    siginfo_t *info = (siginfo_t *)rec->pending.info[i];
    if (amber_siginfo_has_pid(info->si_signo, info->si_code)) {
      int32_t v = amber_s2v(amber.table, AMBER_KIND_PID, info->si_pid);
      info->si_pid = v > 0 ? v : 0;
    }
  }
  __atomic_add_fetch(&amber_ckpt.arrived, 1, __ATOMIC_ACQ_REL);
  amber_futex_wake(&amber_ckpt.arrived, 0);
  return 1;
}

/* After a restore, in the seized thread (amber_seized_entry): what a follower does, then the
 * frame to return to the program with. */
void *amber_seized_resume(long i) __attribute__((used));
void *amber_seized_resume(long i) {
  struct seized_slot *slot = &slots[i];
  struct amber_thread_rec *rec = &amber_ckpt.threads[slot->rec_index];
  __atomic_add_fetch(&amber_ckpt.followers_inside, 1, __ATOMIC_ACQ_REL);
  amber_follower_restored(rec); /* its pending signals wait behind the restorer's mask */
  amber_follower_leave();
  amber_raw_thread_resumed(rec); /* last: from here on, TLS is the program's */
  return &slot->frame;
}
