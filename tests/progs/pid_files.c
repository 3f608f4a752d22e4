/* A program that names a file by its pid in a directory other programs share, as a JVM does
 * (/tmp/hsperfdata_USER/PID), or a pid or lock file: its process and a forked child each create
 * SHARED/<getpid()> (O_EXCL: a file of that name already there is another's), holding TAG. It
 * says "TAG ready ROOT CHILD", then, once DIR/TAG-go exists, checks that both files are still
 * there and still its own, removes them as a program does on its way out, and says "TAG PASS".
 *   pid_files SHARED DIR TAG */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "check.h"
#include "wait_go.h"

static const char *shared, *tag;

static void path_of(pid_t pid, char *path, size_t cap) {
  snprintf(path, cap, "%s/%d", shared, (int)pid);
}

static void claim(void) {
  char path[4096];
  path_of(getpid(), path, sizeof path);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
  CHECK(fd >= 0, "%s: %s: %s (another program's file has this pid's name)", tag, path,
        strerror(errno));
  CHECK(write(fd, tag, strlen(tag)) == (ssize_t)strlen(tag), "write %s", path);
  close(fd);
}

static void check_own(pid_t pid) {
  char path[4096], text[256] = "";
  path_of(pid, path, sizeof path);
  int fd = open(path, O_RDONLY);
  CHECK(fd >= 0, "%s: its file %s is gone: %s", tag, path, strerror(errno));
  ssize_t n = read(fd, text, sizeof text - 1);
  close(fd);
  CHECK(n >= 0 && !strcmp(text, tag), "%s: its file %s holds '%s'", tag, path, text);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  CHECK(argc == 4, "usage: pid_files SHARED DIR TAG");
  shared = argv[1], tag = argv[3];
  claim();
  int ready[2];
  CHECK(pipe(ready) == 0, "pipe");
  pid_t child = fork();
  CHECK(child >= 0, "fork");
  if (child == 0) {
    claim();
    CHECK(write(ready[1], "x", 1) == 1, "tell");
    for (;;) pause(); /* its parent checks its file and ends it */
  }
  char c;
  CHECK(read(ready[0], &c, 1) == 1, "%s: the child did not claim its file", tag);
  printf("%s ready %d %d\n", tag, (int)getpid(), (int)child);
  char go[256];
  snprintf(go, sizeof go, "%s-go", tag);
  while (!dir_has(argv[2], go)) usleep(10000);
  check_own(getpid());
  check_own(child);
  kill(child, SIGKILL);
  waitpid(child, NULL, 0);
  char path[4096];
  path_of(child, path, sizeof path);
  unlink(path);
  path_of(getpid(), path, sizeof path);
  unlink(path);
  printf("%s PASS\n", tag);
  return 0;
}
