/* Signal handlers, the signal mask, an alternate signal stack and an interval timer: a handler
 * still fires after restore, on the alternate stack, and the timer still ticks. */
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/time.h>

#include "check.h"
#include "wait_go.h"

static char altstack[65536];
static volatile sig_atomic_t usr1_count, on_altstack, ticks;

static void on_usr1(int sig, siginfo_t *info, void *uc) {
  char here;
  usr1_count++;
  on_altstack = (uintptr_t)&here >= (uintptr_t)altstack &&
                (uintptr_t)&here < (uintptr_t)altstack + sizeof altstack;
}

static void on_alarm(int sig) { ticks++; }

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: signals_state DIR");
  stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack};
  CHECK(sigaltstack(&ss, NULL) == 0, "sigaltstack");
  struct sigaction sa = {.sa_sigaction = on_usr1, .sa_flags = SA_SIGINFO | SA_ONSTACK};
  CHECK(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction");
  signal(SIGALRM, on_alarm);
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR2);
  sigprocmask(SIG_BLOCK, &block, NULL);
  struct itimerval it = {{0, 20000}, {0, 20000}};
  CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0, "setitimer");
  raise(SIGUSR1);
  CHECK(usr1_count == 1 && on_altstack, "the handler did not run on the alternate stack");
  say_ready();
  wait_go(argv[1]);

  int before = ticks;
  struct timespec pause = {0, 200 * 1000 * 1000};
  while (nanosleep(&pause, &pause) != 0) {}
  CHECK(ticks > before, "the interval timer stopped (%d ticks)", ticks - before);
  on_altstack = 0;
  raise(SIGUSR1);
  CHECK(usr1_count == 2, "the SIGUSR1 handler did not fire after restore");
  CHECK(on_altstack, "the handler did not run on the alternate stack after restore");
  sigset_t now;
  sigprocmask(SIG_BLOCK, NULL, &now);
  CHECK(sigismember(&now, SIGUSR2), "SIGUSR2 is no longer blocked");
  stack_t cur;
  sigaltstack(NULL, &cur);
  CHECK(cur.ss_sp == altstack && cur.ss_size == sizeof altstack, "the alternate stack changed");
  printf("PASS\n");
  return 0;
}
