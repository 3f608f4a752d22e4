/* A parent that forks a short-lived child every millisecond or two, each of which exits with a
 * status of its own after a moment, and reaps them as they end: snapshots land while children
 * are being born and are exiting. After a restore the parent reaps every child it had not
 * reaped yet, each with its own status, and no other: none is lost, none comes twice. It runs
 * until <dir>/go exists, then forks a few hundred more, reaps them all and says PASS. */
#include <errno.h>
#include <sys/wait.h>
#include <time.h>

#include "check.h"
#include "wait_go.h"

#define MAX_KIDS 64

static struct {
  pid_t pid;
  int code;
} kids[MAX_KIDS];
static int nkids;
static unsigned long forked, reaped;

static void pause_us(long us) {
  struct timespec ts = {0, us * 1000};
  nanosleep(&ts, NULL);
}

static void reap(int options) {
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, options);
    if (pid == 0) return;
    if (pid < 0) {
      CHECK(errno == ECHILD && nkids == 0, "waitpid: %d with %d children left", errno, nkids);
      return;
    }
    int k = 0;
    while (k < nkids && kids[k].pid != pid) k++;
    CHECK(k < nkids, "waitpid gave %d, which is not one of the children", pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == kids[k].code,
          "child %d: status %x, expected exit %d", pid, status, kids[k].code);
    kids[k] = kids[--nkids];
    reaped++;
  }
}

static void spawn(void) {
  int code = (int)(forked % 200) + 1;
  long life_us = (long)(forked % 4) * 700;
  pid_t pid = fork();
  CHECK(pid >= 0, "fork: %d", errno);
  if (pid == 0) {
    if (life_us) pause_us(life_us);
    _exit(code);
  }
  kids[nkids].pid = pid;
  kids[nkids++].code = code;
  forked++;
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: exiting_children DIR");
  unsigned long more = 0;
  int said = 0;
  for (;;) {
    if (nkids < MAX_KIDS) spawn();
    reap(WNOHANG);
    if (forked >= 50 && !said) say_ready(), said = 1;
    if (more == 0 && forked % 16 == 0 && go_exists(argv[1])) more = forked + 300;
    if (more && forked >= more) break;
    pause_us(1000);
  }
  while (nkids) reap(0);
  reap(WNOHANG); /* ECHILD: nothing else is left */
  CHECK(reaped == forked, "%lu children forked, %lu reaped", forked, reaped);
  printf("PASS\n");
  return 0;
}
