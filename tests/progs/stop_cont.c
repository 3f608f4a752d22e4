/* A parent that stops and continues its child over and over (SIGSTOP, waitpid WUNTRACED, then
 * SIGCONT, waitpid WCONTINUED), checking each report: snapshots land at every step of that.
 * It runs until <dir>/go exists, then does 50 more rounds, checks that the child counted on,
 * ends it (SIGTERM) and says PASS. */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "check.h"
#include "wait_go.h"

static void pause_us(long us) {
  struct timespec ts = {0, us * 1000};
  nanosleep(&ts, NULL);
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: stop_cont DIR");
  atomic_long *count = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(count != MAP_FAILED, "mmap");
  pid_t child = fork();
  CHECK(child >= 0, "fork");
  if (child == 0)
    for (;;) {
      (*count)++;
      pause_us(100);
    }
  long rounds = 0, more = -1;
  while (more != 0) {
    int status = 0;
    CHECK(kill(child, SIGSTOP) == 0, "SIGSTOP");
    pid_t got = waitpid(child, &status, WUNTRACED);
    CHECK(got == child && WIFSTOPPED(status), "round %ld: not stopped: %d %x (%d)", rounds, got,
          status, errno);
    pause_us(500);
    CHECK(kill(child, SIGCONT) == 0, "SIGCONT");
    got = waitpid(child, &status, WCONTINUED);
    CHECK(got == child && WIFCONTINUED(status), "round %ld: not continued: %d %x (%d)", rounds,
          got, status, errno);
    pause_us(500);
    if (++rounds == 20) say_ready();
    if (more > 0) more--;
    if (more < 0 && rounds % 8 == 0 && go_exists(argv[1])) more = 50;
  }
  long before = *count;
  pause_us(20000);
  CHECK(*count > before, "the child does not count on");
  CHECK(kill(child, SIGTERM) == 0, "SIGTERM");
  int status;
  CHECK(waitpid(child, &status, 0) == child && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM,
        "the child's end: %x", status);
  printf("PASS\n");
  return 0;
}
