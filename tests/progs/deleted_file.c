/* A deleted file held open across a restore: its bytes, mode and offsets come back, in two
 * descriptions (one read-only); the file stays deleted. With "taken", the test has put a new
 * file at the old path before the restore: that one must stay as it is. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "wait_go.h"

int main(int argc, char **argv) {
  CHECK(argc == 3, "usage: deleted_file DIR plain|taken");
  char path[4096];
  snprintf(path, sizeof path, "%s/scratch", argv[1]);
  int rw = open(path, O_RDWR | O_CREAT | O_EXCL, 0640);
  CHECK(rw >= 0, "create %s", path);
  CHECK(write(rw, "scratch data", 12) == 12, "write");
  int ro = open(path, O_RDONLY);
  CHECK(ro >= 0 && lseek(ro, 8, SEEK_SET) == 8, "second open");
  CHECK(unlink(path) == 0, "unlink");
  say_ready();
  wait_go(argv[1]);

  struct stat st;
  CHECK(fstat(rw, &st) == 0 && st.st_nlink == 0, "the file is deleted (links %ld)",
        (long)st.st_nlink);
  CHECK((st.st_mode & 07777) == 0640, "mode %o", st.st_mode & 07777);
  CHECK(lseek(rw, 0, SEEK_CUR) == 12, "the writer's offset");
  CHECK(lseek(ro, 0, SEEK_CUR) == 8, "the reader's offset");
  char buf[16] = {0};
  CHECK(read(ro, buf, 4) == 4 && !memcmp(buf, "data", 4), "the reader reads %s", buf);
  CHECK(write(rw, " more", 5) == 5, "append");
  CHECK(pread(ro, buf, 5, 12) == 5 && !memcmp(buf, " more", 5), "one file behind both opens");
  CHECK(write(ro, "x", 1) < 0, "the read-only open stays read-only");
  if (!strcmp(argv[2], "taken")) {
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0 && read(fd, buf, 9) == 9 && !memcmp(buf, "new owner", 9),
          "the file now at the path is untouched");
  } else {
    char link[64], target[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", rw);
    ssize_t n = readlink(link, target, sizeof target - 1);
    target[n > 0 ? n : 0] = 0;
    char want[4200];
    snprintf(want, sizeof want, "%s (deleted)", path);
    CHECK(!strcmp(target, want), "named %s, not %s", target, want);
    CHECK(access(path, F_OK) != 0, "the path is free again");
  }
  printf("PASS\n");
  return 0;
}
