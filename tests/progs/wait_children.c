/* A parent whose three children exit after the restore: it waits for each by virtual pid and
 * gets its own status, and each child still sees its parent's virtual pid. */
#include <sys/wait.h>

#include "check.h"
#include "wait_go.h"

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: wait_children DIR");
  pid_t parent = getpid(), kids[3];
  for (int i = 0; i < 3; i++) {
    kids[i] = fork();
    CHECK(kids[i] >= 0, "fork");
    if (kids[i] == 0) {
      wait_go(argv[1]);
      CHECK(getppid() == parent, "getppid is %d, not %d", getppid(), parent);
      return 10 + i;
    }
  }
  say_ready();
  wait_go(argv[1]);
  for (int i = 2; i >= 0; i--) {
    int status;
    pid_t got = waitpid(kids[i], &status, 0);
    CHECK(got == kids[i], "waitpid(%d) gave %d", kids[i], got);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 10 + i, "child %d: status %x", i, status);
  }
  CHECK(waitpid(-1, NULL, WNOHANG) == -1, "a child is left");
  printf("PASS\n");
  return 0;
}
