/* A job-control shell's jobs: children, each in a process group of its own, stopped by
 *   0 SIGSTOP, 1 SIGTSTP, 2 SIGTTIN, 3 SIGTTOU, their stop reports not collected;
 *   4 SIGTSTP, its stop report collected (WUNTRACED).
 * After the restore each is still stopped; waitpid(WUNTRACED) reports 0-3 stopped by the same
 * signal as before (WSTOPSIG) and 4 not at all; SIGCONT continues each, as a shell's `fg` does,
 * and each ends with its status. */
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "check.h"
#include "wait_go.h"

#define KIDS 5
static const int stop_by[KIDS] = {SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU, SIGTSTP};

struct shared {
  atomic_long count[KIDS];
  atomic_int finish;
};
static struct shared *sh;

static void pause_ms(long ms) {
  struct timespec ts = {0, ms * 1000000};
  nanosleep(&ts, NULL);
}

static void child(int k) {
  while (!sh->finish) {
    sh->count[k]++;
    pause_ms(1);
  }
  _exit(30 + k);
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: stop_signals DIR");
  sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(sh != MAP_FAILED, "mmap");
  pid_t kids[KIDS];
  for (int k = 0; k < KIDS; k++) {
    kids[k] = fork();
    CHECK(kids[k] >= 0, "fork");
    if (kids[k] == 0) child(k);
    setpgid(kids[k], kids[k]); /* both sides, as a shell does: whichever runs first */
  }
  for (int k = 0; k < KIDS; k++) {
    CHECK(getpgid(kids[k]) == kids[k], "child %d has no process group of its own", k);
    while (sh->count[k] < 5) pause_ms(1);
    CHECK(kill(kids[k], stop_by[k]) == 0, "kill %d", stop_by[k]);
    siginfo_t si = {0};
    CHECK(waitid(P_PID, kids[k], &si, WSTOPPED | (k < 4 ? WNOWAIT : 0)) == 0 &&
              si.si_code == CLD_STOPPED && si.si_status == stop_by[k],
          "child %d did not stop by %d", k, stop_by[k]);
  }
  say_ready();
  wait_go(argv[1]);
  alarm(30); /* a wait that never ends fails the test rather than hanging it */

  int status;
  for (int k = 0; k < 4; k++) {
    CHECK(waitpid(kids[k], &status, WUNTRACED) == kids[k] && WIFSTOPPED(status),
          "child %d: no stop report: %x", k, status);
    CHECK(WSTOPSIG(status) == stop_by[k], "child %d stopped by %d, reported as %d", k, stop_by[k],
          WSTOPSIG(status));
  }
  CHECK(waitpid(kids[4], &status, WUNTRACED | WNOHANG) == 0,
        "a stop collected before is reported again: %x", status);
  long before[KIDS];
  for (int k = 0; k < KIDS; k++) before[k] = sh->count[k];
  pause_ms(50);
  for (int k = 0; k < KIDS; k++) CHECK(sh->count[k] == before[k], "stopped child %d runs", k);
  for (int k = 0; k < KIDS; k++) {
    CHECK(kill(kids[k], SIGCONT) == 0, "kill SIGCONT");
    CHECK(waitpid(kids[k], &status, WCONTINUED) == kids[k] && WIFCONTINUED(status),
          "child %d: not continued: %x", k, status);
  }
  for (int k = 0; k < KIDS; k++)
    while (sh->count[k] < before[k] + 5) pause_ms(1);
  sh->finish = 1;
  for (int k = 0; k < KIDS; k++) {
    CHECK(waitpid(kids[k], &status, 0) == kids[k], "waitpid %d", k);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 30 + k, "child %d: status %x", k, status);
  }
  printf("PASS\n");
  return 0;
}
