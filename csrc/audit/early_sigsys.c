/* The SIGSYS handler between exec and Amber's library's constructor. The filter is inherited
 * across exec, the kernel resets the new program's handlers, and the loader runs the constructors
 * of the program's libraries before Amber's: a trapped call there (libc's rt_sigprocmask in a
 * pthread_create, an rt_sigaction) found no handler and ended the process with SIGSYS. This one
 * makes each call as it is, as if the filter were not there yet: nothing is translated before
 * the library knows the application. The library's constructor replaces it (seccomp.c). */
#include <signal.h>
#include <stdint.h>
#include <sys/ucontext.h>

#include "../common/image.h"
#include "../common/seccomp_filter.h"
#include "audit.h"

#define SA_RESTORER 0x04000000
#define SIGSYS_BIT (1ULL << (31 - 1))
#define CLONE_VM 0x100

void amber_audit_restorer(void);
__asm__(".text\n.align 16\namber_audit_restorer:\n\tmov $15, %rax\n\tsyscall\n\thlt\n");

/* rt_sigprocmask acts on the mask the frame gives back at sigreturn; SIGSYS stays unblocked, or
 * the next trapped call would end the process. */
static long sigmask_call(const long a[6], ucontext_t *uc) {
  uint64_t *mask = (uint64_t *)&uc->uc_sigmask, set;
  if (a[3] != 8) return -22; /* EINVAL, as the kernel */
  if (a[2]) memcpy((void *)a[2], mask, 8);
  if (!a[1]) return 0;
  memcpy(&set, (const void *)a[1], 8);
  if (a[0] == SIG_BLOCK) *mask |= set;
  else if (a[0] == SIG_UNBLOCK) *mask &= ~set;
  else if (a[0] == SIG_SETMASK) *mask = set;
  else return -22;
  *mask &= ~SIGSYS_BIT;
  return 0;
}

/* rt_sigaction: SIGSYS stays this handler's until the library takes it; no handler blocks it. */
static long sigaction_call(const long a[6]) {
  struct amber_ksigaction copy, *old = (void *)a[2];
  if ((int)a[0] == 31) {
    if (old) memset(old, 0, sizeof *old);
    return 0;
  }
  if (!a[1] || a[3] != 8) return amber_sys6(SYS_rt_sigaction, a[0], a[1], a[2], a[3], 0, AMBER_SECCOMP_MAGIC);
  memcpy(&copy, (const void *)a[1], sizeof copy);
  copy.mask &= ~SIGSYS_BIT;
  return amber_sys6(SYS_rt_sigaction, a[0], (long)&copy, a[2], a[3], 0, AMBER_SECCOMP_MAGIC);
}

static long made_as_it_is(long nr, const long a[6], ucontext_t *uc) {
  switch (nr) {
  case SYS_rt_sigprocmask: return sigmask_call(a, uc);
  case SYS_rt_sigaction: return sigaction_call(a);
  /* A new thread on a stack of its own cannot start inside this handler; a vfork child would
   * return through its parent's frame: a fork does what vfork promises. */
  case SYS_clone: if ((a[0] & CLONE_VM) || a[1]) return -38; /* ENOSYS */ break;
  case SYS_clone3: return -38; /* only pthread_create's, which libc makes above the line */
  case SYS_vfork: return amber_sys0(SYS_fork);
  }
  /* a PI futex is trapped from the program's own code only: from here it passes */
  if (nr == SYS_futex) return amber_sys6(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
  /* the other six-argument calls are trapped with a pid in the virtual range, which no process
   * has yet */
  if (!amber_seccomp_watched(nr)) return -3; /* ESRCH */
  /* the magic in the sixth register, which these calls do not use, lets the call through */
  return amber_sys6(nr, a[0], a[1], a[2], a[3], a[4], AMBER_SECCOMP_MAGIC);
}

static void on_sigsys(int sig, siginfo_t *info, void *ucv) {
  ucontext_t *uc = ucv;
  greg_t *g = uc->uc_mcontext.gregs;
  if (info->si_code != 1 /* SYS_SECCOMP */ || info->si_errno != AMBER_SECCOMP_TRAP_DATA) {
    /* not Amber's trap: SIGSYS's default action, at sigreturn */
    struct amber_ksigaction dfl = {0, SA_RESTORER, (uint64_t)amber_audit_restorer, 0};
    amber_sys6(SYS_rt_sigaction, 31, (long)&dfl, 0, 8, 0, AMBER_SECCOMP_MAGIC);
    amber_sys6(SYS_tgkill, amber_sys_getpid(), amber_sys_gettid(), 31, 0, 0, AMBER_SECCOMP_MAGIC);
    return;
  }
  long a[6] = {g[REG_RDI], g[REG_RSI], g[REG_RDX], g[REG_R10], g[REG_R8], g[REG_R9]};
  g[REG_RAX] = made_as_it_is(info->si_syscall, a, uc);
}

void amber_audit_sigsys_install(void) {
  struct amber_ksigaction act = {(uint64_t)on_sigsys,
                                 SA_SIGINFO | SA_NODEFER | SA_ONSTACK | SA_RESTART | SA_RESTORER,
                                 (uint64_t)amber_audit_restorer, 0};
  amber_sys6(SYS_rt_sigaction, 31, (long)&act, 0, 8, 0, AMBER_SECCOMP_MAGIC);
}
