/* Threads waiting for signals when the snapshot lands: one in sigwaitinfo, one in pause. The
 * checkpoint's own signal must not end their waits (no EINTR); after the restore each gets the
 * signal meant for it, and sigwaitinfo names the sender by virtual pid. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "check.h"
#include "wait_go.h"

static volatile int usr2_handled;
static siginfo_t got;
static int waited_sig, pause_errno;

static void on_usr2(int sig) { usr2_handled++; }

static void *waiter(void *arg) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  waited_sig = sigwaitinfo(&set, &got);
  return arg;
}

static void *pauser(void *arg) {
  pause();
  pause_errno = errno;
  return arg;
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: signal_waits DIR");
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &usr1, NULL); /* for every thread: only sigwaitinfo takes it */
  signal(SIGUSR2, on_usr2);
  pthread_t w, p;
  pthread_create(&w, NULL, waiter, NULL);
  pthread_create(&p, NULL, pauser, NULL);
  usleep(50000);
  say_ready();
  wait_go(argv[1]);
  CHECK(waited_sig == 0 && usr2_handled == 0, "a wait ended early: sigwaitinfo %d, pause %d",
        waited_sig, usr2_handled);
  kill(getpid(), SIGUSR1);
  pthread_kill(p, SIGUSR2);
  pthread_join(w, NULL);
  pthread_join(p, NULL);
  CHECK(waited_sig == SIGUSR1, "sigwaitinfo gave %d (%s)", waited_sig, strerror(errno));
  CHECK(got.si_pid == getpid(), "the sender is %d, not %d", got.si_pid, getpid());
  CHECK(usr2_handled == 1 && pause_errno == EINTR, "pause ended with %d, handler %d", pause_errno,
        usr2_handled);
  printf("PASS\n");
  return 0;
}
