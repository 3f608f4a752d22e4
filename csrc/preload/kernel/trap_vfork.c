/* A raw vfork, or a clone with CLONE_VM | CLONE_VFORK (Go's fork for exec), from the program's
 * own code, trapped by the seccomp layer (seccomp.c), made as it is: the child shares the memory
 * and the parent waits for its exec or exit, and both see virtual pids.
 *
 * The handler cannot make the call where it runs: the child would return through the handler's
 * frames and the signal frame, on the stack (or alternate stack) it shares with its parent, and
 * then run the program below the same stack pointer, over the frames the parent still needs to
 * return through. So the handler copies the signal frame (registers, mask, FPU state) into an
 * area of its own thread's, moves to a stack in that area, and makes the call there; the child
 * and then the parent each return to the program by rt_sigreturn on that copy, never through
 * the frames on the program's stack, which the child may overwrite as a vfork child does.
 *
 * The child must not write the library's per-process state, which is its parent's memory: it
 * takes its row in the (shared) tables by its system pid, and a flag in its thread's TLS (the
 * parent's, which waits) makes getpid and gettid answer from the row. */
#include <linux/sched.h>
#include <signal.h>
#include <string.h>
#include <ucontext.h>

#include "../core/amber.h"

#define AREA (128 * 1024)
#define ENV_PART (32 * 1024)  /* the child's exec builds its environment here (trap_exec.c) */
#define FRAME_MAX (32 * 1024) /* the call, then the copy of the signal frame, at the top */
#define CALL_PART 256
#define FP_XSTATE_MAGIC1 0x46505853U

__thread int amber_vfork_child; /* this is a vfork child, on its parent's memory, before exec */
static __thread char *area;     /* this thread's, mapped at its first vfork */

struct vfork_call {
  long nr, a[5]; /* read by amber_vfork_switch: keep first */
  uint64_t flags, stack;
  pid_t *ptid, *ctid;
  greg_t rsp;   /* the program's stack pointer at the call */
  uint64_t mask; /* the program's signal mask at the call */
  char *frame;  /* the copy: struct rt_sigframe, its pretcode first */
  int own;
};

void amber_vfork_switch(struct vfork_call *c, char *sp) __attribute__((noreturn));
char *amber_vfork_after(struct vfork_call *c, long r) __attribute__((used));

/* rdi: the call, rsi: the new stack. rbx (kept by the call) holds the call in both processes. */
__asm__(".text\n.align 16\n"
        "amber_vfork_switch:\n"
        "\tmov %rsi, %rsp\n"
        "\tmov %rdi, %rbx\n"
        "\tmov 0(%rbx), %rax\n"
        "\tmov 8(%rbx), %rdi\n"
        "\tmov 16(%rbx), %rsi\n"
        "\tmov 24(%rbx), %rdx\n"
        "\tmov 32(%rbx), %r10\n"
        "\tmov 40(%rbx), %r8\n"
        "\tmovabs $0x416d6265725f7363, %r9\n" /* AMBER_SECCOMP_MAGIC: past the filter */
        "\tsyscall\n"
        "\tmov %rbx, %rdi\n"
        "\tmov %rax, %rsi\n"
        "\tand $-16, %rsp\n"
        "\tcall amber_vfork_after\n"
        "\tlea 8(%rax), %rsp\n" /* the kernel finds the frame 8 bytes below */
        "\tmov $15, %eax\n"     /* SYS_rt_sigreturn */
        "\tsyscall\n"
        "\thlt\n");
_Static_assert(AMBER_SECCOMP_MAGIC == 0x416d6265725f7363L, "the magic in amber_vfork_switch");

/* In both, on the area's stack: the frame each returns to the program with. */
char *amber_vfork_after(struct vfork_call *c, long r) {
  ucontext_t *uc = (ucontext_t *)(c->frame + 8);
  greg_t *g = uc->uc_mcontext.gregs;
  if (r == 0) {
    /* It takes no part in a snapshot before its exec (the agent is its parent's): the
     * checkpoint signal stays held, across the exec, until the new program's library takes it. */
    uint64_t held = c->mask | 1ULL << (AMBER_CKPT_SIGNAL - 1);
    memcpy(&uc->uc_sigmask, &held, 8);
    amber_vfork_child = 1;
    if (c->own) {
      int32_t v = amber_pid_adopt(amber_sys_getpid(), amber_sys_getppid(), AMBER_PID_PROCESS);
      if (v > 0 && c->ctid && (c->flags & CLONE_CHILD_SETTID)) *c->ctid = v;
    }
    g[REG_RAX] = 0;
    if (c->stack) g[REG_RSP] = (greg_t)c->stack;
    return c->frame;
  }
  amber_vfork_child = 0; /* the child has exec'd or exited: the TLS is this thread's again */
  g[REG_RSP] = c->rsp;
  memcpy(&uc->uc_sigmask, &c->mask, 8);
  int32_t v = r > 0 && c->own ? amber_clone_parent((pid_t)r, c->flags, c->ptid) : -1;
  g[REG_RAX] = r <= 0 ? r : v > 0 ? v : r;
  return c->frame;
}

/* The signal frame, from its pretcode to the end of its FPU state: its length (0 if too long). */
size_t amber_signal_frame_span(ucontext_t *uc) {
  char *start = (char *)uc - 8, *fp = (char *)uc->uc_mcontext.fpregs;
  size_t fixed = 8 + sizeof(ucontext_t) + sizeof(siginfo_t), fplen = 512;
  if (!fp) return fixed;
  uint32_t magic = 0, extended = 0;
  memcpy(&magic, fp + 464, 4);
  memcpy(&extended, fp + 468, 4);
  if (magic == FP_XSTATE_MAGIC1) fplen = extended;
  size_t span = fp > start ? (size_t)(fp - start) + fplen : 0;
  if (span < fixed) span = fixed;
  return span <= FRAME_MAX - CALL_PART - 64 ? span : 0;
}

/* A copy of the signal frame at `copy` (its offset within 64 bytes the frame's, for the FPU
 * state's alignment), its FPU state pointer moved with it. */
void amber_signal_frame_copy(ucontext_t *uc, char *copy, size_t span) {
  char *start = (char *)uc - 8;
  memcpy(copy, start, span);
  ucontext_t *cuc = (ucontext_t *)(copy + 8);
  if (uc->uc_mcontext.fpregs)
    cuc->uc_mcontext.fpregs = (fpregset_t)(copy + ((char *)uc->uc_mcontext.fpregs - start));
}

/* The environment buffer for a vfork child's exec (its parent's memory: nothing to unmap). */
char *amber_vfork_env_buffer(long bytes) {
  return amber_vfork_child && area && bytes <= ENV_PART ? area : NULL;
}

/* Does not return when it makes the call; 1 when it cannot (the caller makes a fork instead). */
int amber_trap_vfork(long nr, const long in[6], int own, ucontext_t *uc) {
  if (amber_vfork_child) return 1; /* a vfork child's own: the area is its parent's */
  size_t span = amber_signal_frame_span(uc);
  if (!span) return 1;
  if (!area) {
    long m = amber_sys6(SYS_mmap, 0, AREA, 3, 0x22 /* MAP_PRIVATE|MAP_ANONYMOUS */, -1, 0);
    if (m < 0 && m > -4096) return 1;
    area = (char *)m;
  }
  /* The copy keeps the frame's offset within 64 bytes: the FPU state must stay aligned. */
  char *start = (char *)uc - 8;
  char *copy = area + AREA - FRAME_MAX + CALL_PART + ((uintptr_t)start & 63);
  amber_signal_frame_copy(uc, copy, span);
  struct vfork_call *cp = (struct vfork_call *)(area + AREA - FRAME_MAX), c; /* above the stack */
  _Static_assert(sizeof c <= CALL_PART, "the call's part of the area");
  memset(&c, 0, sizeof c);
  c.nr = nr;
  c.flags = 17 /* SIGCHLD */ | CLONE_VM | CLONE_VFORK;
  if (nr == SYS_clone) {
    memcpy(c.a, in, sizeof c.a);
    c.flags = (uint64_t)in[0];
    c.stack = (uint64_t)in[1];
    c.a[1] = 0; /* the child goes on on the area's stack, then on its own */
    c.ptid = c.flags & CLONE_PIDFD ? NULL : (pid_t *)in[2];
    c.ctid = (pid_t *)in[3];
  }
  c.rsp = uc->uc_mcontext.gregs[REG_RSP];
  memcpy(&c.mask, &uc->uc_sigmask, 8);
  c.frame = copy;
  c.own = own && amber_active();
  /* The checkpoint waits until both are back in the program (the frame's mask comes back). */
  uint64_t hold = 1ULL << (AMBER_CKPT_SIGNAL - 1);
  amber_sys4(SYS_rt_sigprocmask, 0 /* SIG_BLOCK */, &hold, 0, 8);
  *cp = c;
  amber_vfork_switch(cp, area + AREA - FRAME_MAX);
}
