/* A process (nobody, when started as root) that holds a file of its own open:
 *   file_swap DIR         opens DIR/user/data (made here, owned by nobody), says ready, and after
 *                         the restore reads it again from the start: it must still say "hello"
 *   file_swap DIR shadow  also holds /etc/shadow, opened as root before it became nobody: a
 *                         file it could not open again as itself */
#include <fcntl.h>
#include <grp.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "wait_go.h"

#define NOBODY 65534

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  CHECK(argc == 2 || argc == 3, "usage: file_swap DIR [shadow]");
  char dir[4096], path[4200];
  snprintf(dir, sizeof dir, "%s/user", argv[1]);
  snprintf(path, sizeof path, "%s/data", dir);
  CHECK(mkdir(dir, 0755) == 0, "mkdir %s", dir);
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0644);
  CHECK(fd >= 0 && write(fd, "hello", 5) == 5, "cannot write %s", path);
  close(fd);
  int shadow = argc == 3 ? open("/etc/shadow", O_RDONLY) : -1;
  CHECK(argc == 2 || shadow >= 0, "open /etc/shadow");
  if (getuid() == 0) {
    CHECK(chown(dir, NOBODY, NOBODY) == 0 && chown(path, NOBODY, NOBODY) == 0, "chown");
    gid_t groups[] = {NOBODY};
    CHECK(setgroups(1, groups) == 0 && setresgid(NOBODY, NOBODY, NOBODY) == 0 &&
              setresuid(NOBODY, NOBODY, NOBODY) == 0,
          "switch to nobody");
  }
  fd = open(path, O_RDONLY);
  CHECK(fd >= 0, "open %s", path);
  say_ready();
  wait_go(argv[1]);
  char buf[64] = "";
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  CHECK(n == 5 && !memcmp(buf, "hello", 5), "the file now says '%.*s'", (int)(n > 0 ? n : 0), buf);
  printf("PASS\n");
  return 0;
}
