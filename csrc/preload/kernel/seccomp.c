/* The kernel-side layer: a seccomp filter (common/seccomp_filter.h) sends the calls that name a
 * process, made anywhere but through Amber (raw system calls from Go, assembly, static code),
 * to this SIGSYS handler, which translates them as syscall() would (syscall_pids.c), makes the
 * call past the filter and writes the result into the signal frame's RAX. Installed once per
 * application, in its first process, inherited across fork and exec; every exec'd library puts
 * the handler back first thing (init.c). docs/seccomp.md says why it is built this way. */
#include <link.h>
#include <linux/sched.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <string.h>
#include <sys/prctl.h>
#include <ucontext.h>

#include "../core/amber.h"
#include "../../common/image.h"
#include "../../common/seccomp_filter.h"
#include "../wrappers/proc_files.h"
#include "rewrite.h"
#include "raw_threads.h"

#define SA_RESTORER 0x04000000

int amber_seccomp_layer;    /* Amber's filter is on this process */
__thread int amber_raw_ids; /* in a trapped call: pid arguments below the virtual range pass */

static uintptr_t libc_lo, libc_hi;          /* libc's code: its raw calls keep system ids */
static uintptr_t vdso_lo, vdso_hi;          /* the vDSO's: libc's CPU clock reads */
static struct amber_ksigaction program_sigsys; /* what the program set for SIGSYS */

#define SIGSYS_BIT (1ULL << (31 - 1))

void amber_sigsys_restorer(void);
__asm__(".text\n.align 16\namber_sigsys_restorer:\n\tmov $15, %rax\n\tsyscall\n\thlt\n");

/* A call of six arguments passes the filter with its system pids, not the magic. */
static long past_filter(long nr, const long a[6]) {
  return amber_sys6(nr, a[0], a[1], a[2], a[3], a[4],
                    amber_seccomp_watched(nr) ? AMBER_SECCOMP_MAGIC : a[5]);
}

static long as_raw(long r) { return r == -1 ? -errno : r; }

static int from_libc(uintptr_t ip) { return ip >= libc_lo && ip < libc_hi; }

/* A clock call from libc or the vDSO (trapped only under the legacy layout, where they are
 * below the program's code) is the wrapper's real call (wrap_cpu_clock.c), shifted there. */
static int clock_call(long nr) {
  return nr == SYS_clock_gettime || nr == SYS_clock_getres || nr == SYS_clock_nanosleep;
}

/* A vfork child (posix_spawn's, Go's fork for exec) shares its parent's memory: the SIGSYS
 * action and the mask it sets before its exec must not become the parent's. */
static int in_vfork_child(void) {
  return amber_vfork_child || (amber_active() && amber_pid_v2s(amber.vpid) != amber_sys_getpid());
}

int amber_seccomp_vfork_child(void) { return in_vfork_child(); }

/* rt_sigaction: SIGSYS stays Amber's (the program's action is kept to pass its own SIGSYS
 * on), the checkpoint signal too (as the sigaction wrapper), and no handler blocks SIGSYS. */
static long sigaction_call(const long a[6], uintptr_t ip) {
  int sig = (int)a[0];
  const struct amber_ksigaction *act = (const void *)a[1];
  struct amber_ksigaction *old = (void *)a[2];
  if (a[3] != 8) return past_filter(SYS_rt_sigaction, a);
  if (sig == 31) {
    struct amber_ksigaction prev = program_sigsys;
    if (act && !in_vfork_child()) program_sigsys = *act;
    if (old) *old = prev;
    return 0;
  }
  if (sig == AMBER_CKPT_SIGNAL && amber_active() && !from_libc(ip)) { /* the agent's is libc's */
    if (old) memset(old, 0, sizeof *old);
    return 0;
  }
  /* the program's own handler (not libc's, which the sigaction wrapper wrapped already) runs
   * behind the trampoline that translates si_pid (wrap_signal.c); a vfork child's would
   * overwrite its parent's record, in the memory they share */
  int wrap = amber_active() && !from_libc(ip) && !in_vfork_child();
  struct amber_ksigaction copy;
  long b[6] = {a[0], a[1], a[2], a[3], a[4], a[5]};
  uint64_t was = amber_sigaction_recorded(sig);
  if (act) {
    copy = *act;
    copy.mask &= ~SIGSYS_BIT;
    if (wrap) copy.handler = amber_sigaction_wrap(sig, act->handler, act->flags, act->mask, &was);
    b[1] = (long)&copy;
  }
  long r = past_filter(SYS_rt_sigaction, b);
  if (r == 0 && old && wrap) old->handler = amber_sigaction_unwrap(sig, old->handler, was);
  return r;
}

/* SIGSYS is never blocked in the kernel, since a trapped call with SIGSYS blocked ends the
 * process; the program sees its mask as it set it: the kernel's, with SIGSYS and the checkpoint
 * signal as it last asked (the checkpoint may unblock that one in a mask saved in a frame). */
#define KEPT_BITS (SIGSYS_BIT | (1ULL << (AMBER_CKPT_SIGNAL - 1)))
__thread uint64_t amber_mask_kept; /* of KEPT_BITS, those the program asked to block */

uint64_t amber_mask_view(uint64_t kernel) { return (kernel & ~KEPT_BITS) | amber_mask_kept; }

void amber_mask_set(int how, uint64_t set) {
  set &= KEPT_BITS;
  if (how == SIG_SETMASK) amber_mask_kept = set;
  else if (how == SIG_BLOCK) amber_mask_kept |= set;
  else if (how == SIG_UNBLOCK) amber_mask_kept &= ~set;
}

/* rt_sigprocmask, made on the mask the frame gives back at sigreturn. */
static long sigmask_call(const long a[6], ucontext_t *uc) {
  uint64_t *mask = (uint64_t *)&uc->uc_sigmask, set = 0, view = amber_mask_view(*mask);
  if (a[3] != 8 || (a[1] && a[0] != SIG_BLOCK && a[0] != SIG_UNBLOCK && a[0] != SIG_SETMASK))
    return past_filter(SYS_rt_sigprocmask, a);
  if (a[1]) memcpy(&set, (const void *)a[1], 8);
  if (a[2]) memcpy((void *)a[2], &view, 8);
  if (!a[1]) return 0;
  uint64_t now = a[0] == SIG_BLOCK ? view | set : a[0] == SIG_UNBLOCK ? view & ~set : set;
  if (!in_vfork_child()) amber_mask_set((int)a[0], set);
  *mask = now & ~SIGSYS_BIT;
  return 0;
}

/* A path call from the program's own code: /proc/<virtual pid>/... translated as the wrappers
 * do (wrap_proc.c; a read-only open of its stat or status is the file with virtual pids). The
 * handler may run on a small signal stack (Rust's are 8 KiB, most of it the kernel's frame) and
 * in a thread with little room for more static TLS (Node's), so any other path is passed as it
 * is, and a long one is translated in memory of its own. */
static long path_call(long nr, const long a[6], int at) {
  const char *p = (const char *)a[at];
  if (!p || strncmp(p, "/proc/", 6) != 0 || p[6] < '0' || p[6] > '9') return past_filter(nr, a);
  char small[256], *buf = small;
  size_t cap = strlen(p) + 16; /* a system pid is no longer than a virtual one: room to spare */
  if (cap > sizeof small) {
    long m = amber_sys6(SYS_mmap, 0, (long)cap, 3, 0x22 /* MAP_PRIVATE|MAP_ANONYMOUS */, -1, 0);
    if (m < 0 && m > -4096) return m;
    buf = (char *)m;
  } else {
    cap = sizeof small;
  }
  long b[6] = {a[0], a[1], a[2], a[3], a[4], a[5]};
  b[at] = (long)amber_proc_path(p, buf, cap);
  int flags = nr == SYS_open ? (int)a[1] : nr == SYS_openat ? (int)a[2] : -1;
  int fd = flags == -1 ? -1 : amber_proc_virtual_file((const char *)b[at], flags);
  long r = fd >= 0 ? fd : past_filter(nr, b);
  if (buf != small) amber_sys2(SYS_munmap, buf, cap);
  return r;
}

/* trap_creds.c: SCM_CREDENTIALS of a raw sendmsg, recvmsg, sendmmsg or recvmmsg; SO_PASSCRED */
long amber_trap_creds(long nr, const long a[6]);
long amber_trap_setsockopt(const long a[6]);
void amber_creds_early(void);

/* A call that names a process, from the program: as syscall() translates it, except that a
 * system id (below the virtual range) is let through, as glibc's own raw calls use them. */
static long translated(long nr, long a[6]) {
  switch (nr) {
  case SYS_getpid: return getpid();
  case SYS_getppid: return getppid();
  case SYS_gettid: return gettid();
  case SYS_getpgrp: return as_raw(getpgid(0));
  case SYS_read: { /* a descriptor in the signalfd window (seccomp_calls.h) */
    long r = past_filter(nr, a);
    amber_signalfd_read((int)a[0], (void *)a[1], r);
    return r;
  }
  case SYS_signalfd:
  case SYS_signalfd4: {
    long r = past_filter(nr, a);
    return (int)a[0] == -1 ? amber_signalfd_made((int)r, nr == SYS_signalfd4 ? (int)a[3] : 0) : r;
  }
  case SYS_setsid: return as_raw(setsid());
  case SYS_kill:
  case SYS_tkill:
  case SYS_tgkill: {
    int32_t s0, s1 = (int32_t)a[1];
    amber_enter();
    int err = nr == SYS_kill ? amber_pid_in((int32_t)a[0], &s0) : amber_who_in((int32_t)a[0], &s0);
    if (!err && nr == SYS_tgkill) err = amber_who_in((int32_t)a[1], &s1);
    long b[6] = {s0, s1, a[2], a[3], a[4], a[5]};
    long r = err ? err : past_filter(nr, b);
    amber_leave();
    return r;
  }
  }
  if (amber_seccomp_creds_call(nr)) return amber_trap_creds(nr, a);
  int path = amber_seccomp_path_arg(nr);
  if (path >= 0) return path_call(nr, a, path);
  long r;
  if (amber_syscall_pids(nr, a, &r)) return as_raw(r);
  return past_filter(nr, a);
}

/* trap_clone.c */
long amber_trap_clone(long nr, const long a[6], int own, greg_t *rsp);
/* trap_exec.c */
long amber_trap_execve(const long a[6]);
/* trap_vfork.c: does not return, unless it cannot make the call (1) */
int amber_trap_vfork(long nr, const long a[6], int own, ucontext_t *uc);

/* trap_clone_vm.c: a process sharing the memory; *done 0 when not made there */
long amber_trap_clone_vm(const long a[6], ucontext_t *uc, int *done);
/* trap_clone_thread.c: a thread without a TLS of its own; *done 0 when not made there */
long amber_trap_clone_thread(const long a[6], ucontext_t *uc, int *done);

static int vfork_like(long nr, const long a[6]) {
  return nr == SYS_vfork ||
         (nr == SYS_clone && (a[0] & (CLONE_VM | CLONE_VFORK | CLONE_THREAD | CLONE_SETTLS)) ==
                                 (CLONE_VM | CLONE_VFORK));
}

static long trapped(long nr, long a[6], uintptr_t ip, ucontext_t *uc);

int amber_seccomp_from_libc(uintptr_t ip) { return from_libc(ip); }

/* A rewritten site's call (rewrite.c): translated as trapped() does, with no signal frame, so
 * not the calls that need one (the mask is set in the frame; new processes return through it). */
int amber_seccomp_direct(long nr, long a[6], uintptr_t ip, long *result) {
  if (nr == SYS_rt_sigprocmask || nr == SYS_clone || nr == SYS_clone3 || nr == SYS_fork ||
      nr == SYS_vfork || nr == SYS_execve)
    return 0;
  *result = trapped(nr, a, ip, NULL);
  return 1;
}

/* trap_futex.c: a PI futex operation from the program's own code */
long amber_trap_futex(const long a[6]);

static long trapped(long nr, long a[6], uintptr_t ip, ucontext_t *uc) {
  if (nr == SYS_futex) return from_libc(ip) ? past_filter(nr, a) : amber_trap_futex(a);
  if (nr == SYS_setsockopt) return amber_trap_setsockopt(a); /* SO_PASSCRED, multicast */
  if (nr == SYS_rt_sigaction) return sigaction_call(a, ip);
  if (nr == SYS_rt_sigprocmask) return sigmask_call(a, uc);
  if (nr == SYS_clone && (a[0] & (CLONE_THREAD | CLONE_SETTLS)) == CLONE_THREAD &&
      !from_libc(ip)) {
    int done;
    long r = amber_trap_clone_thread(a, uc, &done);
    return done ? r : past_filter(nr, a);
  }
  /* A raw thread's vfork becomes a fork: its TLS is its creator's, where a vfork child's mark
   * (amber_vfork_child) would be. */
  if (vfork_like(nr, a) && !from_libc(ip) && amber_active() && !amber_raw_tls_program())
    amber_trap_vfork(nr, a, 1, uc);
  if (nr == SYS_clone && (a[0] & (CLONE_VM | CLONE_VFORK | CLONE_THREAD)) == CLONE_VM) {
    int done;
    long r = amber_trap_clone_vm(a, uc, &done);
    return done ? r : past_filter(nr, a); /* no stack of its own: the caller's business */
  }
  if (nr == SYS_clone || nr == SYS_clone3 || nr == SYS_fork || nr == SYS_vfork)
    return amber_trap_clone(nr, a, !from_libc(ip), &uc->uc_mcontext.gregs[REG_RSP]);
  if (nr == SYS_execve && amber_active() && !from_libc(ip)) return amber_trap_execve(a);
  int returns_ids = nr == SYS_getpid || nr == SYS_getppid || nr == SYS_gettid ||
                    nr == SYS_getpgrp || nr == SYS_getpgid || nr == SYS_getsid ||
                    nr == SYS_setsid || nr == SYS_wait4 || nr == SYS_waitid ||
                    nr == SYS_rt_sigtimedwait || nr == SYS_read || nr == SYS_signalfd ||
                    nr == SYS_signalfd4 || amber_seccomp_own(nr) ||
                    amber_seccomp_creds_call(nr);
  /* glibc's own calls (raise, pthread_kill, system, and the wrappers' real calls) compare and
   * pass system ids, as they did before: only the ids in the virtual range are translated. */
  if (!amber_active() || (returns_ids && from_libc(ip))) return past_filter(nr, a);
  if (clock_call(nr) && (from_libc(ip) || (ip >= vdso_lo && ip < vdso_hi)))
    return past_filter(nr, a);
  amber_raw_ids++;
  long r = translated(nr, a);
  amber_raw_ids--;
  return r;
}

/* A SIGSYS that is not Amber's trap goes to the program's action, as if Amber were not there. */
static void pass_on(int sig, siginfo_t *info, void *uc) {
  struct amber_ksigaction act = program_sigsys;
  if (act.handler == (uint64_t)SIG_IGN) return;
  if (act.handler == (uint64_t)SIG_DFL) {
    struct amber_ksigaction dfl = {0, SA_RESTORER, (uint64_t)amber_sigsys_restorer, 0};
    amber_sys4(SYS_rt_sigaction, 31, &dfl, 0, 8);
    amber_sys3(SYS_tgkill, amber_sys_getpid(), amber_sys_gettid(), 31); /* at sigreturn */
    return;
  }
  if (act.flags & SA_RESETHAND) program_sigsys.handler = (uint64_t)SIG_DFL;
  if (act.flags & SA_SIGINFO) ((void (*)(int, siginfo_t *, void *))act.handler)(sig, info, uc);
  else ((void (*)(int))act.handler)(sig);
}

static __attribute__((noinline)) void handle_trap(siginfo_t *info, void *ucv) {
  int saved_errno = errno;
  ucontext_t *uc = ucv;
  greg_t *g = uc->uc_mcontext.gregs;
  long a[6] = {g[REG_RDI], g[REG_RSI], g[REG_RDX], g[REG_R10], g[REG_R8], g[REG_R9]};
  g[REG_RAX] = trapped(info->si_syscall, a, (uintptr_t)info->si_call_addr, uc);
  if (amber_rw_on) amber_rw_learn(info->si_syscall, g); /* later calls from there skip the trap */
  errno = saved_errno;
}

/* A raw thread's trap runs on its own TLS (raw_threads.c): nothing here touches TLS. */
static void on_sigsys(int sig, siginfo_t *info, void *ucv) {
  if (info->si_code != 1 /* SYS_SECCOMP */ || info->si_errno != AMBER_SECCOMP_TRAP_DATA) {
    pass_on(sig, info, ucv);
    return;
  }
  uint64_t fs = amber_raw_tls_enter();
  handle_trap(info, ucv);
  amber_raw_tls_leave(fs);
}

/* SA_NODEFER: a trapped call made while handling one (a wrapper's real call through libc) is
 * handled too; SA_ONSTACK: Go's goroutine stacks are small, its signal stacks are not. */
static void install_handler(void) {
  struct amber_ksigaction act = {(uint64_t)on_sigsys,
                                 SA_SIGINFO | SA_NODEFER | SA_ONSTACK | SA_RESTART | SA_RESTORER,
                                 (uint64_t)amber_sigsys_restorer, 0};
  amber_sys4(SYS_rt_sigaction, 31, &act, 0, 8);
}

/* The executable segment of the object that holds range[0], into range[0..1]. */
static int find_code(struct dl_phdr_info *info, size_t size, void *data) {
  uintptr_t *range = data, want = range[0];
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
    if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && want >= lo && want < hi) {
      range[0] = lo;
      range[1] = hi;
      return 1;
    }
  }
  return 0;
}

static void find_object(uintptr_t in, uintptr_t *lo, uintptr_t *hi) {
  uintptr_t range[2] = {in, 0};
  if (in && dl_iterate_phdr(find_code, range)) *lo = range[0], *hi = range[1];
}

/* First thing in every process the library starts in: the filter, inherited across exec,
 * needs the handler back before anything traps. */
void amber_seccomp_early(void) {
  find_object((uintptr_t)REAL(getpid), &libc_lo, &libc_hi);
  /* the vDSO's text follows its ELF header */
  find_object((uintptr_t)getauxval(AT_SYSINFO_EHDR) + 1, &vdso_lo, &vdso_hi);
  if (!amber_seccomp_present()) return;
  amber_rw_init();
  amber_creds_early();
  amber_seccomp_layer = 1;
  install_handler();
}

/* In an application's first process: on when asked (AMBER_SECCOMP=on, which sets
 * no_new_privs if it must) or when the process may install a filter without it
 * (CAP_SYS_ADMIN); off when AMBER_SECCOMP=off. */
void amber_seccomp_start(void) {
  const char *mode = getenv("AMBER_SECCOMP");
  if (amber_seccomp_layer || (mode && !strcmp(mode, "off"))) return;
  int asked = mode && !strcmp(mode, "on");
  install_handler();
  long r = amber_seccomp_install(SECCOMP_FILTER_FLAG_TSYNC);
  if (r == -EACCES && asked && amber_sys2(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1) == 0)
    r = amber_seccomp_install(SECCOMP_FILTER_FLAG_TSYNC);
  if (r == 0) {
    amber_seccomp_layer = 1;
    amber_rw_init();
    return;
  }
  struct amber_ksigaction dfl = {0, SA_RESTORER, (uint64_t)amber_sigsys_restorer, 0};
  amber_sys4(SYS_rt_sigaction, 31, &dfl, 0, 8);
  if (r == -EACCES)
    amber_log("the kernel-side layer is off: without CAP_SYS_ADMIN it needs no_new_privs, "
              "which stops setuid programs; AMBER_SECCOMP=on asks for it");
  else amber_log("the kernel-side layer is off: seccomp refused the filter (%ld)", -r);
}
