/* Children that exited before the snapshot and that their parent has not reaped yet (zombies):
 * after the restore the parent reaps them, by virtual pid, with their exit status and signal. */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "check.h"
#include "wait_go.h"

static int is_zombie(pid_t pid) {
  char path[64], stat[512];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  size_t n = fread(stat, 1, sizeof stat - 1, f);
  fclose(f);
  stat[n] = 0;
  const char *end = strrchr(stat, ')');
  return end && end[2] == 'Z';
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: zombies DIR");
  pid_t exited = fork();
  if (exited == 0) _exit(7);
  pid_t killed = fork();
  if (killed == 0) {
    raise(SIGTERM);
    _exit(1);
  }
  while (!is_zombie(exited) || !is_zombie(killed)) usleep(1000);
  say_ready();
  wait_go(argv[1]);
  int status;
  CHECK(waitpid(exited, &status, 0) == exited, "waitpid(exited)");
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 7, "the exited child's status is %x", status);
  CHECK(waitpid(killed, &status, 0) == killed, "waitpid(killed)");
  CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM, "the killed child's status is %x",
        status);
  printf("PASS\n");
  return 0;
}
