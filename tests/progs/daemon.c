/* A program that daemonizes the classic way (fork, setsid, fork again, the first two exit) and
 * then closes every descriptor it did not open itself: the daemon is an orphan, adopted by the
 * supervisor, in a session and group whose leader has exited, with a worker child of its own
 * in them too. Both must come back as such, in that same session and group. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "check.h"
#include "wait_go.h"

/* The supervisor, the application's init, which adopts orphans: the root's parent. */
static pid_t supervisor;
#define SUPERVISOR supervisor

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: daemon DIR");
  supervisor = getppid();
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
  pid_t worker = fork();
  if (worker == 0) {
    wait_go(argv[1]);
    return getsid(0) == session && getpgid(0) == session ? 0 : 1;
  }
  printf("ready\n");
  fflush(stdout);
  wait_go(argv[1]);
  int status;
  CHECK(waitpid(worker, &status, 0) == worker && WIFEXITED(status) && !WEXITSTATUS(status),
        "the worker left the daemon's session or group");
  CHECK(getpid() == me, "getpid changed");
  CHECK(getppid() == SUPERVISOR, "after restore the daemon's parent is %d", getppid());
  /* The session's leader is gone: a stand-in leads it again, under the same ID. */
  CHECK(getsid(0) == session, "after restore the session is %d, not %d", getsid(0), session);
  CHECK(getpgid(0) == session, "after restore the group is %d, not %d", getpgid(0), session);
  printf("PASS\n");
  return 0;
}
