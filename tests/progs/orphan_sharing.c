/* Copy-on-write sharing between orphans comes back: a parent fills 32 MiB of private memory,
 * forks 4 workers, each of which changes 4 pages of it, and exits, so that the workers are
 * orphans, the supervisor's children, that still share the rest of its pages. With "session"
 * the parent had made itself a session's leader first (setsid, in a child of the program, which
 * exits too): the workers are then also members of a session whose leader has exited. Worker 0
 * checks, before the snapshot and after each restore, every worker's bytes and that the
 * workers' proportional set sizes (Pss) add up to near 32 MiB, not 4 times that. */
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "check.h"
#include "pss.h"
#include "wait_go.h"

/* The supervisor, the application's init, which adopts orphans: the root's parent. */
static pid_t supervisor;
#define SUPERVISOR supervisor
#define KIDS 4
#define SIZE (32L << 20)
#define PAGE 4096

struct shared {
  atomic_int pid[KIDS];    /* each worker's, once it runs */
  atomic_int round;        /* worker 0 asks for a check by bumping it */
  atomic_int done[KIDS];   /* the round each worker checked */
  atomic_int failed[KIDS]; /* a check that did not hold: the page, plus one */
};
static struct shared *sh;
static unsigned char *big;

static unsigned char byte(long i) { return (unsigned char)(i * 13 + i / PAGE); }

static int changed_by(long page, int k) { return page >= k * 64L && page < k * 64L + 4; }

static long check(int k) {
  for (long i = 0; i < SIZE; i++) {
    long page = i / PAGE;
    if (big[i] != (changed_by(page, k) ? (unsigned char)(k + 1) : byte(i))) return page + 1;
  }
  return 0;
}

static void check_all(const char *when) {
  static int round;
  sh->round = ++round;
  long mine = check(0);
  CHECK(mine == 0, "%s: worker 0's byte at page %ld is wrong", when, mine - 1);
  for (int k = 1; k < KIDS; k++) {
    while (sh->done[k] != round) usleep(2000);
    CHECK(sh->failed[k] == 0, "%s: worker %d's check failed at %d", when, k, sh->failed[k]);
  }
  CHECK(getppid() == SUPERVISOR, "%s: worker 0's parent is %d", when, getppid());
  long total = 0;
  for (int k = 0; k < KIDS; k++) total += pss_kb(sh->pid[k]);
  CHECK(total < SIZE / 1024 * 3 / 2, "%s: the workers' Pss adds up to %ld kB for %ld kB shared",
        when, total, SIZE / 1024);
}

static void worker(int k, const char *dir) {
  for (long p = k * 64L; p < k * 64L + 4; p++) memset(big + p * PAGE, k + 1, PAGE);
  sh->pid[k] = getpid();
  if (k == 0) {
    for (int j = 0; j < KIDS; j++)
      while (!sh->pid[j]) usleep(1000);
    while (getppid() != SUPERVISOR) usleep(1000); /* until its parent is gone */
    check_all("before the snapshot");
    say_ready();
    wait_go(dir);
    check_all("after the restore");
    for (int j = 1; j < KIDS; j++) kill(sh->pid[j], SIGKILL);
    printf("PASS\n");
    fflush(stdout);
    exit(0);
  }
  for (int seen = 0;;) {
    int round = sh->round;
    if (round == seen) {
      usleep(2000);
      continue;
    }
    sh->failed[k] = (int)check(k);
    sh->done[k] = seen = round;
  }
}

int main(int argc, char **argv) {
  CHECK(argc == 3, "usage: orphan_sharing DIR orphans|session");
  supervisor = getppid();
  int session = !strcmp(argv[2], "session");
  sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(sh != MAP_FAILED, "mmap");
  if (session) { /* a child leads the session: the program's first process is a group leader */
    pid_t leader = fork();
    CHECK(leader >= 0, "fork");
    if (leader > 0) {
      waitpid(leader, NULL, 0);
      return 0;
    }
    CHECK(setsid() == getpid(), "setsid");
  }
  big = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(big != MAP_FAILED, "mmap");
  for (long i = 0; i < SIZE; i++) big[i] = byte(i);
  for (int k = 0; k < KIDS; k++) {
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) worker(k, argv[1]);
  }
  return 0; /* the workers are orphans now */
}
