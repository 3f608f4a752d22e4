/* Two children that are stopped when the snapshot comes: one stopped by its parent (SIGSTOP),
 * one that stopped itself (raise(SIGSTOP)); the parent has seen both stop (WUNTRACED). After
 * the restore both are still stopped (their counters do not move), waitpid(WUNTRACED) reports
 * at most a stop again, SIGCONT continues each (WCONTINUED), and each ends with its status.
 * Each has a SIGCONT handler (by sigaction, by signal) that ran for no snapshot, only for its
 * parent's SIGCONT. The test reads each child's state from /proc too. */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "check.h"
#include "wait_go.h"

struct shared {
  atomic_long count[2];
  atomic_int conts[2]; /* SIGCONT handler runs */
  atomic_int finish;
};
static struct shared *sh;
static int me;

static void on_cont(int sig) { sh->conts[me]++; }

static void pause_ms(long ms) {
  struct timespec ts = {0, ms * 1000000};
  nanosleep(&ts, NULL);
}

static void child(int k) {
  me = k;
  if (k == 0) {
    struct sigaction sa = {.sa_handler = on_cont, .sa_flags = SA_RESTART};
    sigaction(SIGCONT, &sa, NULL);
  } else {
    signal(SIGCONT, on_cont);
    raise(SIGSTOP);
  }
  while (!sh->finish) {
    sh->count[k]++;
    pause_ms(1);
  }
  _exit(20 + k);
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: stopped_children DIR");
  sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                           -1, 0);
  CHECK(sh != MAP_FAILED, "mmap");
  pid_t kids[2];
  for (int k = 0; k < 2; k++) {
    kids[k] = fork();
    CHECK(kids[k] >= 0, "fork");
    if (kids[k] == 0) child(k);
  }
  while (sh->count[0] < 10) pause_ms(1);
  CHECK(kill(kids[0], SIGSTOP) == 0, "kill SIGSTOP");
  for (int k = 0; k < 2; k++) {
    int status;
    CHECK(waitpid(kids[k], &status, WUNTRACED) == kids[k] && WIFSTOPPED(status) &&
              WSTOPSIG(status) == SIGSTOP, "child %d did not stop: %x", k, status);
  }
  printf("stopped %d %d\n", kids[0], kids[1]);
  say_ready();
  wait_go(argv[1]);
  long before[2] = {sh->count[0], sh->count[1]};
  pause_ms(100);
  for (int k = 0; k < 2; k++) {
    CHECK(sh->count[k] == before[k], "child %d runs: %ld -> %ld", k, before[k], (long)sh->count[k]);
    int status = 0;
    pid_t got = waitpid(kids[k], &status, WUNTRACED | WNOHANG);
    CHECK(got == 0 || (got == kids[k] && WIFSTOPPED(status)), "waitpid(WUNTRACED) for %d: %d %x",
          k, got, status);
  }
  for (int k = 0; k < 2; k++) {
    CHECK(sh->conts[k] == 0, "child %d's SIGCONT handler ran %d times", k, (int)sh->conts[k]);
    CHECK(kill(kids[k], SIGCONT) == 0, "kill SIGCONT");
    int status;
    CHECK(waitpid(kids[k], &status, WCONTINUED) == kids[k] && WIFCONTINUED(status),
          "child %d: not continued: %x", k, status);
  }
  for (int k = 0; k < 2; k++)
    while (sh->count[k] < before[k] + 10 || sh->conts[k] < 1) pause_ms(1);
  for (int k = 0; k < 2; k++) CHECK(sh->conts[k] == 1, "child %d: %d SIGCONTs", k, sh->conts[k]);
  sh->finish = 1;
  for (int k = 0; k < 2; k++) {
    int status;
    CHECK(waitpid(kids[k], &status, 0) == kids[k], "waitpid %d: %d", k, errno);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 20 + k, "child %d: status %x", k, status);
  }
  printf("PASS\n");
  return 0;
}
