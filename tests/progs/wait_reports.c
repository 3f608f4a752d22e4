/* What a parent has, and has not, collected from its children with waitpid comes back exactly:
 *   0 stopped, its stop collected (WUNTRACED): no stop report after the restore;
 *   1 stopped, its stop not collected: one stop report after the restore;
 *   2 stopped and continued, the continue not collected (WCONTINUED): one continued report;
 *   3 stopped and continued, the continue collected: none;
 *   4 exited, not reaped: reaped with its status.
 * The running children's SIGCONT handlers ran once, for their parent's SIGCONT only. An
 * original snapshotted without stop checks the same. */
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "check.h"
#include "wait_go.h"

#define KIDS 5
struct shared {
  atomic_long count[KIDS];
  atomic_int conts[KIDS]; /* SIGCONT handler runs */
  atomic_int finish;
};
static struct shared *sh;
static int me; /* which child this is */

static void on_cont(int sig) { sh->conts[me] += 1; }

static void child(int k) {
  me = k;
  if (k == 4) _exit(44);
  struct sigaction sa = {.sa_handler = on_cont, .sa_flags = SA_RESTART};
  sigaction(SIGCONT, &sa, NULL);
  while (!sh->finish) {
    sh->count[k]++;
    usleep(1000);
  }
  _exit(20 + k);
}

static pid_t wait_nohang(pid_t pid, int options, int *status) {
  *status = 0;
  return waitpid(pid, status, options | WNOHANG);
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: wait_reports DIR");
  sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(sh != MAP_FAILED, "mmap");
  pid_t kids[KIDS];
  for (int k = 0; k < KIDS; k++) {
    kids[k] = fork();
    CHECK(kids[k] >= 0, "fork");
    if (kids[k] == 0) child(k);
  }
  int status;
  for (int k = 0; k < 4; k++) {
    while (sh->count[k] < 5) usleep(1000);
    CHECK(kill(kids[k], SIGSTOP) == 0, "kill SIGSTOP");
    /* The stop of child 1 stays uncollected: a WNOWAIT look at it leaves it there. */
    siginfo_t si = {0};
    CHECK(waitid(P_PID, kids[k], &si, WSTOPPED | (k == 1 ? WNOWAIT : 0)) == 0 &&
              si.si_code == CLD_STOPPED, "child %d did not stop", k);
  }
  for (int k = 2; k < 4; k++) {
    CHECK(kill(kids[k], SIGCONT) == 0, "kill SIGCONT");
    siginfo_t si = {0};
    CHECK(waitid(P_PID, kids[k], &si, WCONTINUED | (k == 2 ? WNOWAIT : 0)) == 0 &&
              si.si_code == CLD_CONTINUED, "child %d was not continued", k);
    while (sh->conts[k] < 1) usleep(1000);
  }
  siginfo_t si = {0};
  CHECK(waitid(P_PID, kids[4], &si, WEXITED | WNOWAIT) == 0, "child 4 did not exit");
  say_ready();
  wait_go(argv[1]);

  long before[2] = {sh->count[0], sh->count[1]};
  usleep(50000);
  for (int k = 0; k < 2; k++)
    CHECK(sh->count[k] == before[k], "stopped child %d runs", k);
  CHECK(wait_nohang(kids[0], WUNTRACED, &status) == 0, "a stop collected before is reported again: %x",
        status);
  CHECK(wait_nohang(kids[1], WUNTRACED, &status) == kids[1] && WIFSTOPPED(status),
        "the stop not collected is not there: %x", status);
  CHECK(wait_nohang(kids[1], WUNTRACED, &status) == 0, "two stop reports");
  CHECK(wait_nohang(kids[2], WCONTINUED, &status) == kids[2] && WIFCONTINUED(status),
        "the continue not collected is not there: %x", status);
  CHECK(wait_nohang(kids[2], WCONTINUED, &status) == 0, "two continued reports");
  CHECK(wait_nohang(kids[3], WCONTINUED, &status) == 0, "a continue collected before is reported again");
  for (int k = 0; k < 4; k++)
    CHECK(sh->conts[k] == (k >= 2), "child %d's SIGCONT handler ran %d times", k,
          (int)sh->conts[k]);
  for (int k = 0; k < 2; k++) CHECK(kill(kids[k], SIGCONT) == 0, "kill SIGCONT");
  sh->finish = 1;
  for (int k = 0; k < KIDS; k++) {
    CHECK(waitpid(kids[k], &status, 0) == kids[k], "waitpid %d", k);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == (k == 4 ? 44 : 20 + k),
          "child %d: status %x", k, status);
  }
  printf("PASS\n");
  return 0;
}
