/* A parent blocked in waitpid() for its child when the snapshot lands: after the restore the
 * kernel restarts the wait, which must then name the child's new system pid. */
#include <sys/wait.h>

#include "check.h"
#include "wait_go.h"

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: blocked_wait DIR");
  pid_t child = fork();
  if (child == 0) {
    wait_go(argv[1]);
    return 5;
  }
  say_ready();
  int status;
  pid_t got = waitpid(child, &status, 0);
  CHECK(got == child, "waitpid gave %d, not %d", got, child);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 5, "status %x", status);
  printf("PASS\n");
  return 0;
}
