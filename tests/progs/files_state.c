/* A file written up to an offset and then continued, /dev/null, a pipe holding unread bytes
 * inside the process, the working directory and the umask: all as they were after restore. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "wait_go.h"

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: files_state DIR");
  CHECK(chdir(argv[1]) == 0, "chdir");
  umask(027);
  int file = open("data.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(file >= 0, "open data.txt");
  char block[1000];
  memset(block, 'A', sizeof block);
  CHECK(write(file, block, sizeof block) == sizeof block, "write A");
  int null = open("/dev/null", O_WRONLY);
  int pipefd[2];
  CHECK(pipe(pipefd) == 0, "pipe");
  const char message[] = "bytes in flight";
  CHECK(write(pipefd[1], message, sizeof message) == sizeof message, "write pipe");
  say_ready();
  wait_go(".");

  memset(block, 'B', sizeof block);
  CHECK(write(file, block, sizeof block) == sizeof block, "write B");
  CHECK(lseek(file, 0, SEEK_CUR) == 2000, "offset is %ld", (long)lseek(file, 0, SEEK_CUR));
  struct stat st;
  CHECK(stat("data.txt", &st) == 0 && st.st_size == 2000, "size is %ld", (long)st.st_size);
  int check = open("data.txt", O_RDONLY);
  char all[2000];
  CHECK(read(check, all, sizeof all) == 2000, "read back");
  CHECK(all[999] == 'A' && all[1000] == 'B', "the second block did not follow the first");
  CHECK(write(null, "x", 1) == 1, "/dev/null");
  char got[sizeof message];
  CHECK(read(pipefd[0], got, sizeof got) == sizeof got && !memcmp(got, message, sizeof got),
        "the pipe lost its bytes");
  char cwd[4096];
  CHECK(getcwd(cwd, sizeof cwd) && !strcmp(cwd, argv[1]), "cwd is %s", cwd);
  mode_t mask = umask(0);
  CHECK(mask == 027, "umask is %o", mask);
  printf("PASS\n");
  return 0;
}
