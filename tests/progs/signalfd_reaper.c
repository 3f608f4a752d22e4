/* An event loop that reaps its children through a signalfd: what it reads names the exited
 * child by virtual pid (ssi_pid), so waiting for that pid works, before and after a restore. */
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>

#include "check.h"
#include "wait_go.h"

static void reap_one(int sfd, pid_t expected) {
  struct signalfd_siginfo info;
  CHECK(read(sfd, &info, sizeof info) == sizeof info, "read the signalfd");
  CHECK(info.ssi_signo == SIGCHLD, "signal %u", info.ssi_signo);
  CHECK((pid_t)info.ssi_pid == expected, "ssi_pid is %u, not the child's %d", info.ssi_pid,
        expected);
  int status;
  CHECK(waitpid((pid_t)info.ssi_pid, &status, 0) == expected, "waitpid(ssi_pid)");
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: signalfd_reaper DIR");
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  int sfd = signalfd(-1, &chld, 0);
  CHECK(sfd >= 0, "signalfd");
  pid_t first = fork();
  if (first == 0) return 0;
  reap_one(sfd, first); /* before any snapshot */
  pid_t second = fork();
  if (second == 0) {
    wait_go(argv[1]);
    return 0;
  }
  say_ready();
  wait_go(argv[1]);
  reap_one(sfd, second); /* after the restore */
  printf("PASS\n");
  return 0;
}
