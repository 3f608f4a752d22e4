/* A raw clone of a new process that shares its parent's memory (CLONE_VM without CLONE_VFORK
 * or CLONE_THREAD, on a stack the caller gives), from the program's own code, trapped by the
 * seccomp layer (seccomp.c): the parent gets the child's virtual pid, the child has its row.
 *
 * The child runs beside its parent at once, on its own stack, and must not run the handler's
 * code on the stack its parent returns through: the handler puts a copy of the signal frame
 * (registers, mask, FPU state; RAX 0 and RSP the stack given) just below the child's stack, and
 * the child's first instruction is rt_sigreturn on it (amber_clone_vm_call).
 *
 * The child shares the library's memory, so its amber.vpid is its parent's: once a process has
 * made such a child, getpid and gettid look its own up by system pid (amber_vm_shared). A
 * snapshot of an application with such processes is refused, naming them (ctl_clone_share.c):
 * Amber saves each process's memory by itself and cannot make two share one again. */
#include <linux/sched.h>
#include <ucontext.h>

#include "../core/amber.h"
#include "raw_threads.h"

int amber_vm_shared; /* this process made a CLONE_VM child: its memory is also another's */

/* The clone of a child on a stack of its own (child_sp: a copy of the signal frame there, just
 * past its pretcode): in the child, start->fn(start->arg) on that stack, then rt_sigreturn on
 * the copy; the parent gets the call's result. Also for raw threads (trap_clone_thread.c). */
long amber_clone_vm_call(long flags, char *child_sp, pid_t *ptid, pid_t *ctid, long tls,
                         const struct amber_child_start *start);
__asm__(".text\n.align 16\n"
        ".globl amber_clone_vm_call\n.hidden amber_clone_vm_call\n"
        "amber_clone_vm_call:\n"
        "\tpush %r12\n"
        "\tmov %r9, %r12\n" /* start, for the child: registers are copied */
        "\tmov %rcx, %r10\n"
        "\tmov $56, %eax\n" /* SYS_clone */
        "\tmovabs $0x416d6265725f7363, %r9\n" /* AMBER_SECCOMP_MAGIC: past the filter */
        "\tsyscall\n"
        "\ttest %rax, %rax\n"
        "\tjnz 1f\n"
        "\tmov 8(%r12), %rdi\n" /* the child: start, then rt_sigreturn on the copy at rsp - 8 */
        "\tmov %rsp, %rbx\n"
        "\tand $-16, %rsp\n"
        "\tcall *(%r12)\n"
        "\tmov %rbx, %rsp\n"
        "\tmov $15, %eax\n"
        "\tsyscall\n"
        "\thlt\n"
        "1:\tpop %r12\n"
        "\tret\n");
_Static_assert(AMBER_SECCOMP_MAGIC == 0x416d6265725f7363L, "the magic in amber_clone_vm_call");

/* In the child, before the program runs in it: its row, so that it knows its own pid (its
 * parent adopts the same row when the call returns there). No TLS: it is its parent thread's. */
static void clone_vm_child(void *unused) {
  if (amber.table)
    amber_pid_row_adopt(amber.table, amber_sys_getpid(), amber_sys_getppid(), AMBER_PID_PROCESS);
  /* made by a raw thread on its own TLS (raw_threads.c): back on the program's */
  uint64_t fs = amber_raw_tls_program();
  if (fs) amber_sys2(SYS_arch_prctl, 0x1002 /* ARCH_SET_FS */, fs);
}

/* trap_vfork.c */
size_t amber_signal_frame_span(ucontext_t *uc);
void amber_signal_frame_copy(ucontext_t *uc, char *copy, size_t span);

/* The call's result; 1 in *done only when made here (else the caller passes it on). */
long amber_trap_clone_vm(const long a[6], ucontext_t *uc, int *done) {
  uint64_t flags = (uint64_t)a[0], stack = (uint64_t)a[1];
  size_t span = amber_signal_frame_span(uc);
  *done = 0;
  if (!stack || !span || stack < span + 256) return 0;
  char *start = (char *)uc - 8;
  char *copy = (char *)(((stack - span - 128) & ~63ULL) + ((uintptr_t)start & 63));
  if (copy + span > (char *)stack) copy -= 64;
  amber_signal_frame_copy(uc, copy, span);
  greg_t *g = ((ucontext_t *)(copy + 8))->uc_mcontext.gregs;
  g[REG_RAX] = 0;
  g[REG_RSP] = (greg_t)stack;
  /* It takes no part in a snapshot (which refuses it): the agent there is its parent's. */
  ((ucontext_t *)(copy + 8))->uc_sigmask.__val[0] |= 1ULL << (AMBER_CKPT_SIGNAL - 1);
  pid_t *ptid = flags & CLONE_PIDFD ? NULL : (pid_t *)a[2];
  int own = amber_active();
  if (own) amber_vm_shared = 1;
  uint64_t mask;
  amber_ckpt_hold(&mask);
  static const struct amber_child_start child = {clone_vm_child, NULL};
  long r = amber_clone_vm_call((long)flags, copy + 8, (pid_t *)a[2], (pid_t *)a[3], a[4], &child);
  int32_t v = r > 0 && own ? amber_clone_parent((pid_t)r, flags, ptid) : -1;
  amber_ckpt_release(&mask);
  *done = 1;
  return r <= 0 ? r : v > 0 ? v : r;
}
