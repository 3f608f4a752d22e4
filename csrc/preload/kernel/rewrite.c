/* Rewritten syscall sites, the half that runs at each call: which calls the entry takes
 * (amber_rw_handled), each thread's own stack for them, and the dispatcher the entry calls.
 * rewrite_site.c patches the sites. docs/seccomp.md, "Rewritten sites", says why. */
#include <cpuid.h>
#include <errno.h>
#include <linux/membarrier.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/sys.h"
#include "rewrite.h"

int amber_rw_on;
uint64_t amber_rw_handled[AMBER_RW_NR_MAX / 64]; /* the entry's bitmap */
__thread struct amber_rw_thread amber_rw_tls;

void amber_rw_dispatch(struct amber_rw_frame *f);
void amber_rw_site_learn(long nr, const greg_t *g); /* rewrite_site.c */
int amber_seccomp_from_libc(uintptr_t ip);          /* seccomp.c */
void amber_rw_stack_init(void);                     /* rewrite_stack.c */
void amber_rw_give_stack(void);

void amber_rw_learn(long nr, const greg_t *g) {
  if (nr < 0 || nr >= AMBER_RW_NR_MAX || !(amber_rw_handled[nr / 64] & (1ULL << (nr % 64))))
    return; /* a site of a call the entry would pass back to the trap: no use */
  uintptr_t site = (uintptr_t)g[REG_RIP] - 2;
  if (site < 0x10000 || site >= AMBER_SECCOMP_LIBS_FROM || amber_seccomp_from_libc(site))
    return; /* libc's own trapped calls (its sigaction) are never rewritten: no stack for them */
  if (!amber_rw_tls.stack_top) amber_rw_give_stack();
  if (amber_rw_tls.stack_top) amber_rw_site_learn(nr, g);
}

/* Called by the entry on the thread's own stack. errno is the program's. */
void amber_rw_dispatch(struct amber_rw_frame *f) {
  int saved = errno;
  long r;
  if (amber_seccomp_direct(f->nr, f->a, (uintptr_t)f->rip, &r)) f->nr = r;
  else f->rip -= 2; /* back onto the site's syscall instruction */
  errno = saved;
}

static void handle(long nr) { amber_rw_handled[nr / 64] |= 1ULL << (nr % 64); }

/* The calls seccomp.c translates without a signal frame: all it traps but the mask (set in the
 * frame), the new processes (they return through the frame) and execve. Not reads nor clock
 * calls either: the filter traps only a few of them (a signalfd's, a CPU clock's), and a hot
 * site's other reads and clock reads must go on straight into the kernel. */
void amber_rw_init(void) {
  const char *mode = getenv("AMBER_SYSCALL_REWRITE");
  unsigned a, b, c, d;
  if (mode && !strcmp(mode, "off")) return;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return; /* no OSXSAVE */
#define AMBER_RW_CALL(nr, kind, x, y)                                                            \
  if (nr != SYS_rt_sigprocmask && nr != SYS_clone && nr != SYS_clone3 && nr != SYS_fork &&      \
      nr != SYS_vfork && nr != SYS_execve && kind != AMBER_TRAP_FD &&                             \
      kind != AMBER_TRAP_CPUCLOCK && kind != AMBER_TRAP_SOCKOPT && nr < AMBER_RW_NR_MAX)         \
    handle(nr);
  AMBER_SECCOMP_CALLS(AMBER_RW_CALL)
#undef AMBER_RW_CALL
  /* Patching a site needs this registration (rewrite_site.c); made by a process with threads,
   * it waits for an RCU grace period (milliseconds, tens of them on a loaded machine) while
   * holding the patch lock, and every other thread's site stays on the trap meanwhile. Here,
   * before the program starts a thread, it costs nothing. */
  amber_sys2(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE, 0);
  amber_rw_stack_init();
  amber_rw_on = 1;
}
