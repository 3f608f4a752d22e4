/* The checkpoint signal belongs to Amber: the program can neither take it over nor block it. */
#include <signal.h>

#include "amber.h"

static sigset_t *without_ckpt(const sigset_t *set, sigset_t *copy) {
  if (!set || !amber_active() || !sigismember(set, AMBER_CKPT_SIGNAL)) return (sigset_t *)set;
  *copy = *set;
  sigdelset(copy, AMBER_CKPT_SIGNAL);
  return copy;
}

AMBER_EXPORT int sigprocmask(int how, const sigset_t *set, sigset_t *old) {
  sigset_t copy;
  return REAL(sigprocmask)(how, how == SIG_UNBLOCK ? set : without_ckpt(set, &copy), old);
}

AMBER_EXPORT int pthread_sigmask(int how, const sigset_t *set, sigset_t *old) {
  sigset_t copy;
  return REAL(pthread_sigmask)(how, how == SIG_UNBLOCK ? set : without_ckpt(set, &copy), old);
}

AMBER_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  if (amber_active() && amber_is_ckpt_signal(sig) && act) {
    /* Pretend to the program that it succeeded, as a disposition it can never observe. */
    if (old) *old = (struct sigaction){0};
    return 0;
  }
  return REAL(sigaction)(sig, act, old);
}

AMBER_EXPORT __sighandler_t signal(int sig, __sighandler_t handler) {
  if (amber_active() && amber_is_ckpt_signal(sig)) return SIG_DFL;
  return REAL(signal)(sig, handler);
}
