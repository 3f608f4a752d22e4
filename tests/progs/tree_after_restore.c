/* After a restore: a signal to a process group reaches both of its processes; a description
 * shared across fork keeps one offset; a new child is registered and keeps Amber across exec. */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "check.h"
#include "wait_go.h"

#define VPID_BASE 4200000

static void on_usr1(int sig) { _exit(42); }

static int exec_check(char **argv) {
  CHECK(getpid() >= VPID_BASE, "after exec getpid is %d", getpid());
  CHECK(getppid() == atoi(argv[2]), "after exec getppid is %d, not %s", getppid(), argv[2]);
  return 7;
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "exec-check")) return exec_check(argv);
  CHECK(argc == 2, "usage: tree_after_restore DIR");
  char path[4096];
  snprintf(path, sizeof path, "%s/shared.txt", argv[1]);
  int file = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  CHECK(file >= 0, "open");
  signal(SIGUSR1, on_usr1);
  pid_t kids[2];
  for (int i = 0; i < 2; i++) {
    kids[i] = fork();
    if (kids[i] == 0) {
      setpgid(0, i == 0 ? 0 : kids[0]);
      wait_go(argv[1]);
      if (i == 0) CHECK(write(file, "child.....", 10) == 10, "child write");
      for (;;) pause();
    }
    setpgid(kids[i], kids[0]);
  }
  say_ready();
  wait_go(argv[1]);
  usleep(100000); /* the first child writes first */
  CHECK(write(file, "parent....", 10) == 10, "parent write");
  CHECK(lseek(file, 0, SEEK_CUR) == 20, "the offset is not shared: %ld", (long)lseek(file, 0, SEEK_CUR));
  CHECK(getpgid(kids[1]) == kids[0], "the group is %d, not %d", getpgid(kids[1]), kids[0]);
  CHECK(kill(-kids[0], SIGUSR1) == 0, "kill the group");
  for (int i = 0; i < 2; i++) {
    int status;
    CHECK(waitpid(kids[i], &status, 0) == kids[i], "waitpid");
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 42, "child %d status %x", i, status);
  }
  pid_t fresh = fork();
  if (fresh == 0) {
    char parent[16];
    snprintf(parent, sizeof parent, "%d", getppid());
    execl("/proc/self/exe", "tree_after_restore", "exec-check", parent, (char *)NULL);
    _exit(99);
  }
  CHECK(fresh >= VPID_BASE, "a child forked after restore got %d", fresh);
  int status;
  CHECK(waitpid(fresh, &status, 0) == fresh && WIFEXITED(status) && WEXITSTATUS(status) == 7,
        "the exec'd child: %x", status);
  printf("PASS\n");
  return 0;
}
