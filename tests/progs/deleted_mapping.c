/* A file mapped shared and then deleted, as allocators and runtimes do for memory shared with
 * their children: after a restore the parent and its child still share it, with what it held;
 * the one descriptor left open on it is still the same file (a write through it shows). */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "check.h"
#include "wait_go.h"

#define SIZE (2 * 4096)

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: deleted_mapping DIR");
  char path[4096];
  snprintf(path, sizeof path, "%s/shared.bin", argv[1]);
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
  CHECK(fd >= 0 && ftruncate(fd, SIZE) == 0, "create %s", path);
  char *shared = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(shared != MAP_FAILED, "mmap");
  int kept = open(path, O_RDWR);
  CHECK(kept >= 0, "open again");
  close(fd);
  CHECK(unlink(path) == 0, "unlink");
  strcpy(shared, "before");
  pid_t child = fork();
  if (child == 0) {
    wait_go(argv[1]);
    CHECK(!strcmp(shared, "before"), "the child sees %s", shared);
    strcpy(shared + 4096, "from the child");
    return 0;
  }
  say_ready();
  wait_go(argv[1]);
  int status;
  CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && !WEXITSTATUS(status), "child");
  CHECK(!strcmp(shared, "before"), "the parent sees %s", shared);
  CHECK(!strcmp(shared + 4096, "from the child"), "the child's write shows: %s", shared + 4096);
  CHECK(pwrite(kept, "via fd", 7, 100) == 7 && !strcmp(shared + 100, "via fd"),
        "a write through the descriptor shows in the mapping");
  printf("PASS\n");
  return 0;
}
