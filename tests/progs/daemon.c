/* A program that daemonizes the classic way (fork, setsid, fork again, the first two exit) and
 * then closes every descriptor it did not open itself: the daemon is an orphan, adopted by the
 * supervisor, in a session of its own. It must come back as such. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "check.h"
#include "wait_go.h"

#define SUPERVISOR 4200000

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: daemon DIR");
  if (fork() > 0) return 0;
  setsid();
  if (fork() > 0) return 0;
  usleep(100000); /* until its parent is gone */
  pid_t me = getpid();
  CHECK(getppid() == SUPERVISOR, "the orphan's parent is %d", getppid());
  /* Its session's leader has exited, yet the session's ID is still a virtual pid. */
  pid_t session = getsid(0);
  CHECK(session >= SUPERVISOR && session != me, "the daemon's session is %d", session);
  char path[4096];
  snprintf(path, sizeof path, "%s/daemon.log", argv[1]);
  int log = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
  dup2(log, 1);
  close_range(3, ~0U, 0); /* Amber keeps nothing open in the program */
  printf("ready\n");
  fflush(stdout);
  wait_go(argv[1]);
  CHECK(getpid() == me, "getpid changed");
  CHECK(getppid() == SUPERVISOR, "after restore the daemon's parent is %d", getppid());
  /* A session whose leader is gone cannot be made again with that leader: the daemon leads a
   * session of its own (docs/virtual-ids.md). */
  CHECK(getsid(0) == me || getsid(0) == session, "after restore the session is %d", getsid(0));
  CHECK(getsid(0) != SUPERVISOR, "after restore the daemon is in the supervisor's session");
  printf("PASS\n");
  return 0;
}
