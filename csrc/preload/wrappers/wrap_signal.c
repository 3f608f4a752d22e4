/* The checkpoint signal belongs to Amber: the program can neither take it over nor block it. */
#include <signal.h>
#include <string.h>

#include "../core/amber.h"
#include "cpu_clock.h"

static sigset_t *without_ckpt(const sigset_t *set, sigset_t *copy) {
  if (!set || !amber_active() || !sigismember(set, AMBER_CKPT_SIGNAL)) return (sigset_t *)set;
  *copy = *set;
  sigdelset(copy, AMBER_CKPT_SIGNAL);
  return copy;
}

/* Under the seccomp layer SIGSYS is never blocked either (seccomp.c), and the call is made past
 * the filter, as glibc makes it: without its own two internal signals (32, 33). */
static int mask_past_filter(int how, const sigset_t *set, sigset_t *old) {
  uint64_t mask = 0, was = 0;
  if (set) {
    memcpy(&mask, set, 8);
    if (how != SIG_UNBLOCK)
      mask &= ~((1ULL << 30) | (3ULL << 31) | (1ULL << (AMBER_CKPT_SIGNAL - 1)));
  }
  uint64_t asked = mask;
  if (set) memcpy(&asked, set, 8);
  long r = amber_sys4(SYS_rt_sigprocmask, how, set ? &mask : 0, &was, 8);
  if (r < 0) return (int)-r;
  if (old) {
    memset(old, 0, sizeof *old);
    uint64_t view = amber_mask_view(was);
    memcpy(old, &view, 8);
  }
  if (set) amber_mask_set(how, asked);
  return 0;
}

AMBER_EXPORT int sigprocmask(int how, const sigset_t *set, sigset_t *old) {
  sigset_t copy;
  if (amber_seccomp_layer && amber_active()) {
    int err = mask_past_filter(how, set, old);
    return err ? (errno = err, -1) : 0;
  }
  return REAL(sigprocmask)(how, how == SIG_UNBLOCK ? set : without_ckpt(set, &copy), old);
}

AMBER_EXPORT int pthread_sigmask(int how, const sigset_t *set, sigset_t *old) {
  sigset_t copy;
  if (amber_seccomp_layer && amber_active()) return mask_past_filter(how, set, old);
  return REAL(pthread_sigmask)(how, how == SIG_UNBLOCK ? set : without_ckpt(set, &copy), old);
}

/* A handler that takes a siginfo_t gets the sender's pid virtual: the program's own handler
 * runs behind a trampoline that translates si_pid first (0 for a sender outside the
 * application, whose pid the program has no name for). */
static struct sigaction user_actions[65];

static void siginfo_trampoline(int sig, siginfo_t *info, void *uc) {
  if (info && info->si_pid > 0 && amber_active() &&
      amber_siginfo_has_pid(sig, info->si_code)) {
    int32_t v = amber_s2v(amber.table, AMBER_KIND_PID, info->si_pid);
    info->si_pid = v > 0 ? v : 0;
  }
  user_actions[sig].sa_sigaction(sig, info, uc);
}

AMBER_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  if (!amber_active() || sig <= 0 || sig > 64) return REAL(sigaction)(sig, act, old);
  if (amber_is_ckpt_signal(sig)) {
    /* Pretend to the program that it succeeded, as a disposition it can never observe. */
    if (old) *old = (struct sigaction){0};
    return 0;
  }
  struct sigaction wrapped, previous;
  const struct sigaction *give = act;
  if (act && (act->sa_flags & SA_SIGINFO) && act->sa_sigaction) {
    wrapped = *act;
    wrapped.sa_sigaction = siginfo_trampoline;
    give = &wrapped;
  }
  struct sigaction saved = user_actions[sig];
  if (act) user_actions[sig] = *act;
  int r = REAL(sigaction)(sig, give, &previous);
  if (r) {
    user_actions[sig] = saved;
    return r;
  }
  if (old) *old = previous.sa_sigaction == siginfo_trampoline ? saved : previous;
  return 0;
}

/* The same for a raw rt_sigaction from the program's own code (seccomp.c, Go's runtime): the
 * handler to give the kernel (and in *was the program's one it replaces), and the program's
 * handler behind the one the kernel holds (`was`, the one recorded before the call). */
uint64_t amber_sigaction_wrap(int sig, uint64_t handler, uint64_t flags, uint64_t mask,
                              uint64_t *was) {
  if (sig <= 0 || sig > 64 || handler == (uint64_t)siginfo_trampoline) return handler;
  *was = (uint64_t)user_actions[sig].sa_sigaction;
  struct sigaction act;
  memset(&act, 0, sizeof act);
  act.sa_sigaction = (void (*)(int, siginfo_t *, void *))handler;
  act.sa_flags = (int)flags;
  memcpy(&act.sa_mask, &mask, 8);
  user_actions[sig] = act;
  int own = (flags & SA_SIGINFO) && handler != (uint64_t)SIG_DFL && handler != (uint64_t)SIG_IGN;
  return own ? (uint64_t)siginfo_trampoline : handler;
}

uint64_t amber_sigaction_unwrap(int sig, uint64_t kernel_handler, uint64_t was) {
  if (sig <= 0 || sig > 64 || kernel_handler != (uint64_t)siginfo_trampoline) return kernel_handler;
  return was;
}

uint64_t amber_sigaction_recorded(int sig) {
  return sig > 0 && sig <= 64 ? (uint64_t)user_actions[sig].sa_sigaction : 0;
}

AMBER_EXPORT __sighandler_t signal(int sig, __sighandler_t handler) {
  if (amber_active() && amber_is_ckpt_signal(sig)) return SIG_DFL;
  return REAL(signal)(sig, handler);
}

/* A timer that signals one thread names it by TID: the program's is virtual. A SIGEV_THREAD
 * timer is run by the library's own helper thread (timer_thread.c). */
AMBER_EXPORT int timer_delete(timer_t timer) {
  int r = REAL(timer_delete)(timer);
  if (r == 0 && amber_active()) amber_timer_thread_forget(timer);
  if (r == 0 && amber_active()) amber_cpu_timer_gone(timer);
  return r;
}

/* A timer on the calling thread's CPU clock names that thread by TID, so that a snapshot knows
 * which thread's clock it runs on (for "0, the caller" the kernel shows no more). */
static clockid_t explicit_thread_clock(clockid_t clock) {
  if (clock == CLOCK_THREAD_CPUTIME_ID)
    clock = amber_cpu_clock_with(AMBER_CPUCLOCK_THREAD | AMBER_CPUCLOCK_SCHED, 0);
  if (!amber_cpu_clock(clock) || !amber_cpu_clock_thread(clock) || amber_cpu_clock_id(clock))
    return clock;
  return amber_cpu_clock_with(clock, amber_sys_gettid());
}

static int create_timer(clockid_t clock, struct sigevent *ev, timer_t *timer) {
  clock = amber_cpu_clock_to_system(clock);
  if (amber_active()) clock = explicit_thread_clock(clock);
  if (amber_active() && ev && ev->sigev_notify == SIGEV_THREAD)
    return amber_timer_create_thread(clock, ev, timer, REAL(timer_create));
  if (!amber_active() || !ev || ev->sigev_notify != SIGEV_THREAD_ID)
    return REAL(timer_create)(clock, ev, timer);
  struct sigevent translated = *ev;
  int32_t tid = amber_pid_v2s(ev->_sigev_un._tid);
  if (tid < 0) {
    errno = EINVAL;
    return -1;
  }
  translated._sigev_un._tid = tid;
  return REAL(timer_create)(clock, &translated, timer);
}

AMBER_EXPORT int timer_create(clockid_t clock, struct sigevent *ev, timer_t *timer) {
  int r = create_timer(clock, ev, timer);
  if (r == 0 && amber_active()) amber_cpu_timer_made(*timer, clock); /* cpu_timers.c */
  return r;
}
