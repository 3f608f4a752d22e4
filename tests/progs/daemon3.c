/* A program that daemonizes with daemon(3) (fork, the parent exits, setsid in the child):
 * the daemon stays in its application, the supervisor's child, leading its own session, with
 * a virtual pid of its own. It logs to DIR/daemon.log ("ready", then "PASS" after go). */
#include <fcntl.h>
#include <stdlib.h>

#include "check.h"
#include "wait_go.h"

/* The supervisor, the application's init, which adopts orphans: the root's parent. */
static pid_t supervisor;
#define SUPERVISOR supervisor

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: daemon3 DIR");
  supervisor = getppid();
  pid_t parent = getpid();
  CHECK(daemon(1, 0) == 0, "daemon");
  char path[4096];
  snprintf(path, sizeof path, "%s/daemon.log", argv[1]);
  int log = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
  dup2(log, 1);
  close(log);
  pid_t me = getpid();
  CHECK(me != parent && me > SUPERVISOR, "the daemon's pid is %d (its parent's was %d)", me, parent);
  CHECK(getsid(0) == me, "the daemon does not lead its session: %d", getsid(0));
  while (getppid() != SUPERVISOR) usleep(1000); /* until its parent is gone */
  printf("ready\n");
  fflush(stdout);
  wait_go(argv[1]);
  CHECK(getpid() == me, "getpid changed: %d, not %d", getpid(), me);
  CHECK(getppid() == SUPERVISOR, "after restore the daemon's parent is %d", getppid());
  CHECK(getsid(0) == me && getpgid(0) == me, "after restore: session %d, group %d", getsid(0),
        getpgid(0));
  printf("PASS\n");
  return 0;
}
