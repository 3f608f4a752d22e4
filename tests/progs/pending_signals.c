/* Signals pending when the snapshot lands (blocked by the program) come back pending after
 * the restore: a standard signal sent to the process, two queued real-time signals with their
 * values, in order, and one sent to the thread itself; each handler sees the sender as the
 * program's own virtual pid. */
#include <pthread.h>
#include <signal.h>

#include "check.h"
#include "wait_go.h"

static volatile int usr1, usr2, rt_count, rt_values[4];
static volatile pid_t usr1_from;

static void on_signal(int sig, siginfo_t *info, void *uc) {
  if (sig == SIGUSR1) usr1++, usr1_from = info->si_pid;
  if (sig == SIGUSR2) usr2++;
  if (sig == SIGRTMIN + 1 && rt_count < 4) rt_values[rt_count++] = info->si_value.sival_int;
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: pending_signals DIR");
  struct sigaction sa = {.sa_sigaction = on_signal, .sa_flags = SA_SIGINFO};
  sigaction(SIGUSR1, &sa, NULL);
  sigaction(SIGUSR2, &sa, NULL);
  sigaction(SIGRTMIN + 1, &sa, NULL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGUSR2);
  sigaddset(&set, SIGRTMIN + 1);
  sigprocmask(SIG_BLOCK, &set, NULL);
  kill(getpid(), SIGUSR1);
  sigqueue(getpid(), SIGRTMIN + 1, (union sigval){.sival_int = 11});
  sigqueue(getpid(), SIGRTMIN + 1, (union sigval){.sival_int = 22});
  pthread_kill(pthread_self(), SIGUSR2);
  say_ready();
  wait_go(argv[1]);
  sigset_t pending;
  sigpending(&pending);
  CHECK(sigismember(&pending, SIGUSR1) && sigismember(&pending, SIGUSR2) &&
            sigismember(&pending, SIGRTMIN + 1),
        "the pending signals were lost");
  sigprocmask(SIG_UNBLOCK, &set, NULL);
  CHECK(usr1 == 1 && usr2 == 1, "SIGUSR1 %d times, SIGUSR2 %d times", usr1, usr2);
  CHECK(usr1_from == getpid(), "SIGUSR1 came from %d, not %d", usr1_from, getpid());
  CHECK(rt_count == 2 && rt_values[0] == 11 && rt_values[1] == 22, "real-time: %d (%d, %d)",
        rt_count, rt_values[0], rt_values[1]);
  printf("PASS\n");
  return 0;
}
