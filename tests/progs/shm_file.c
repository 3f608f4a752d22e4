/* A POSIX shared-memory file (/dev/shm, shm_open), as PostgreSQL's dynamic shared memory: sized
 * to 3 pages and 100 bytes, mode 0640, mapped shared by the parent, which also keeps its
 * descriptor, and by two workers. The parent writes page 0; worker 0 writes page 1 and exits
 * before the snapshot (its page is in no living page table); worker 1 writes page 2 and the tail
 * and stays. After the restore (the test removed the file meanwhile) the file is back at its
 * name, with its size, mode and every byte, the same file as the descriptor and the mappings.
 * With "partial", only the first page is mapped: the snapshot must refuse. */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "check.h"
#include "wait_go.h"

#define PAGE 4096
#define SIZE (3 * PAGE + 100)

static void check_file(const char *name, int fd, const char *mem, const char *who) {
  char path[300];
  snprintf(path, sizeof path, "/dev/shm%s", name);
  struct stat by_fd, by_path;
  CHECK(fstat(fd, &by_fd) == 0 && stat(path, &by_path) == 0, "%s: stat %s", who, path);
  CHECK(by_fd.st_ino == by_path.st_ino && by_fd.st_dev == by_path.st_dev,
        "%s: the descriptor is not the file at %s", who, path);
  CHECK(by_fd.st_size == SIZE, "%s: size %ld", who, (long)by_fd.st_size);
  CHECK((by_fd.st_mode & 0777) == 0640, "%s: mode %o", who, by_fd.st_mode & 0777);
  for (int i = 0; i < SIZE; i++)
    CHECK(mem[i] == (char)('a' + i / PAGE + i % 7), "%s: byte %d is %d", who, i, mem[i]);
  char buf[100];
  CHECK(pread(fd, buf, 100, 3 * PAGE) == 100 && memcmp(buf, mem + 3 * PAGE, 100) == 0,
        "%s: the file's tail, read, differs from the mapping", who);
}

static void fill(char *mem, int from, int to) {
  for (int i = from; i < to; i++) mem[i] = (char)('a' + i / PAGE + i % 7);
}

int main(int argc, char **argv) {
  CHECK(argc == 4, "usage: shm_file DIR /NAME whole|partial");
  const char *name = argv[2];
  int partial = !strcmp(argv[3], "partial");
  int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
  CHECK(fd >= 0, "shm_open %s", name);
  CHECK(fchmod(fd, 0640) == 0 && ftruncate(fd, SIZE) == 0, "fchmod, ftruncate");
  size_t len = partial ? PAGE : 4 * PAGE;
  char *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(mem != MAP_FAILED, "mmap");
  if (partial) {
    fill(mem, 0, PAGE);
    say_ready();
    wait_go(argv[1]);
    printf("PASS\n");
    return 0;
  }
  fill(mem, 0, PAGE);
  pid_t kids[2];
  for (int k = 0; k < 2; k++) {
    kids[k] = fork();
    CHECK(kids[k] >= 0, "fork");
    if (kids[k]) continue;
    if (k == 0) {
      fill(mem, PAGE, 2 * PAGE);
      return 0;
    }
    fill(mem, 2 * PAGE, SIZE);
    wait_go(argv[1]);
    check_file(name, fd, mem, "worker");
    return 0;
  }
  int status;
  CHECK(waitpid(kids[0], &status, 0) == kids[0] && WIFEXITED(status) && !WEXITSTATUS(status),
        "worker 0 failed");
  while (mem[SIZE - 1] != (char)('a' + (SIZE - 1) / PAGE + (SIZE - 1) % 7)) usleep(1000);
  say_ready();
  wait_go(argv[1]);
  CHECK(waitpid(kids[1], &status, 0) == kids[1] && WIFEXITED(status) && !WEXITSTATUS(status),
        "worker 1 failed");
  check_file(name, fd, mem, "parent");
  shm_unlink(name);
  printf("PASS\n");
  return 0;
}
