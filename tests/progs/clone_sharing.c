/* A child made by clone(2) without CLONE_VM that shares its parent's descriptor table
 * (CLONE_FILES) or working directory and umask (CLONE_FS). After go the child opens a
 * descriptor, or moves and changes its umask, and ends; the parent must see the change. The
 * working directory's sharing comes back from a restore; the descriptor table's is refused at
 * the snapshot, and the two run on sharing as before. */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "check.h"
#include "wait_go.h"

static const char *dir;
static char stack[256 * 1024];

/* The child opens a file (files) or moves (fs) once go is there, and ends. */
static int child(void *arg) {
  wait_go(dir);
  if (!strcmp(arg, "files")) {
    int fd = open("/dev/null", O_RDONLY);
    dup2(fd, 77);
  } else {
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd) || strcmp(cwd, dir) || umask(077) != 022) {
      printf("FAIL: the child's cwd or umask is not as it was\n");
      fflush(stdout);
      return 1;
    }
    chdir("/");
  }
  return 0;
}

int main(int argc, char **argv) {
  CHECK(argc == 3 && (!strcmp(argv[2], "files") || !strcmp(argv[2], "fs")),
        "usage: clone_sharing DIR files|fs");
  dir = argv[1];
  CHECK(chdir(dir) == 0, "chdir");
  umask(022);
  int flags = SIGCHLD | (!strcmp(argv[2], "files") ? CLONE_FILES : CLONE_FS);
  pid_t pid = clone(child, stack + sizeof stack, flags, argv[2]);
  CHECK(pid > 0, "clone");
  say_ready();
  int status;
  CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status), "the child did not end well");
  if (flags & CLONE_FILES) {
    CHECK(fcntl(77, F_GETFD) >= 0, "the child's descriptor 77 is not the parent's");
  } else {
    char cwd[64];
    CHECK(getcwd(cwd, sizeof cwd) && !strcmp(cwd, "/"), "the child's cwd is not the parent's");
    CHECK(umask(0) == 077, "the child's umask is not the parent's");
  }
  printf("PASS\n");
  return 0;
}
