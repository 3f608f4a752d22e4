/* POSIX shared memory objects that no process maps at the snapshot: one written through a
 * mapping since removed and closed (a program that will open it again by name), one only
 * written and held by a descriptor, and one unlinked. After the restore (the test cleared them
 * from /dev/shm meanwhile) the first two are back at their names with their size, mode and every
 * byte, the descriptor is the file at its name again, and the unlinked one is still gone.
 * With "many", more objects than Amber keeps track of: the snapshot is refused. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "check.h"
#include "wait_go.h"

#define SIZE 10000

static char name[3][200];

static char byte(int which, int i) { return (char)('A' + which * 7 + i % 13); }

static void check_object(int which, int fd) {
  struct stat st;
  CHECK(fstat(fd, &st) == 0, "fstat %s", name[which]);
  CHECK(st.st_size == SIZE, "%s: size %ld", name[which], (long)st.st_size);
  CHECK((st.st_mode & 0777) == 0640, "%s: mode %o", name[which], st.st_mode & 0777);
  static char got[SIZE];
  CHECK(pread(fd, got, SIZE, 0) == SIZE, "read %s", name[which]);
  for (int i = 0; i < SIZE; i++)
    CHECK(got[i] == byte(which, i), "%s: byte %d is %d", name[which], i, got[i]);
}

/* More objects than Amber notes: the snapshot must refuse; they are removed after go. */
static int many(const char *dir, const char *prefix) {
  char name[200];
  for (int k = 0; k < 65; k++) {
    snprintf(name, sizeof name, "%s-many-%d", prefix, k);
    int fd = shm_open(name, O_CREAT | O_RDWR, 0600);
    CHECK(fd >= 0, "shm_open %s", name);
    close(fd);
  }
  say_ready();
  wait_go(dir);
  for (int k = 0; k < 65; k++) {
    snprintf(name, sizeof name, "%s-many-%d", prefix, k);
    shm_unlink(name);
  }
  printf("PASS\n");
  return 0;
}

int main(int argc, char **argv) {
  CHECK(argc == 3 || argc == 4, "usage: shm_unmapped DIR NAME [many]");
  if (argc == 4) return many(argv[1], argv[2]);
  for (int k = 0; k < 3; k++) snprintf(name[k], sizeof name[k], "%s-%d", argv[2], k);
  umask(0);
  int fds[3];
  for (int k = 0; k < 3; k++) {
    fds[k] = shm_open(name[k], O_CREAT | O_EXCL | O_RDWR, 0640);
    CHECK(fds[k] >= 0, "shm_open %s: %d", name[k], errno);
    CHECK(ftruncate(fds[k], SIZE) == 0, "ftruncate");
  }
  char *mem = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
  CHECK(mem != MAP_FAILED, "mmap");
  for (int i = 0; i < SIZE; i++) mem[i] = byte(0, i);
  munmap(mem, SIZE);
  close(fds[0]);
  for (int k = 1; k < 3; k++) {
    static char data[SIZE];
    for (int i = 0; i < SIZE; i++) data[i] = byte(k, i);
    CHECK(pwrite(fds[k], data, SIZE, 0) == SIZE, "pwrite");
  }
  close(fds[2]);
  CHECK(shm_unlink(name[2]) == 0, "shm_unlink");
  say_ready();
  wait_go(argv[1]);
  int fd = shm_open(name[0], O_RDWR, 0);
  CHECK(fd >= 0, "%s is gone: %d", name[0], errno);
  check_object(0, fd);
  check_object(1, fds[1]);
  char path[300];
  snprintf(path, sizeof path, "/dev/shm%s", name[1]);
  struct stat by_fd, by_path;
  CHECK(fstat(fds[1], &by_fd) == 0 && stat(path, &by_path) == 0 && by_fd.st_ino == by_path.st_ino,
        "the descriptor is not the file at %s", path);
  CHECK(shm_open(name[2], O_RDWR, 0) < 0 && errno == ENOENT, "the unlinked %s is back", name[2]);
  for (int k = 0; k < 2; k++) shm_unlink(name[k]);
  printf("PASS\n");
  return 0;
}
