/* memfds across a restore: one with a sealed size, a hole and bytes past it, its offset shared
 * with a forked child; a read-only second open of it; and one mapped shared, whose mapping and
 * descriptor must stay one file after the restore (a write through either shows in the other,
 * in this process and in the child that shares the mapping). */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "check.h"
#include "wait_go.h"

#define NOTES_SIZE (1 << 20)
#define RING_SIZE (64 << 10)
#define SEALS (F_SEAL_SHRINK | F_SEAL_GROW)

static void check_name(int fd, const char *name) {
  char link[64], target[256];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, target, sizeof target - 1);
  CHECK(n > 0, "readlink %s", link);
  target[n] = 0;
  CHECK(strncmp(target, "/memfd:", 7) == 0 && strncmp(target + 7, name, strlen(name)) == 0,
        "descriptor %d is %s, not the memfd %s", fd, target, name);
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: memfd_state DIR");
  int notes = memfd_create("amber-notes", MFD_ALLOW_SEALING);
  CHECK(notes >= 0, "memfd_create");
  CHECK(write(notes, "hello memfd", 11) == 11, "write");
  CHECK(ftruncate(notes, NOTES_SIZE) == 0, "ftruncate");
  CHECK(pwrite(notes, "tail", 4, NOTES_SIZE - 4) == 4, "pwrite");
  CHECK(fcntl(notes, F_ADD_SEALS, SEALS) == 0, "seal");
  CHECK(lseek(notes, 6, SEEK_SET) == 6, "lseek");
  char self[64];
  snprintf(self, sizeof self, "/proc/self/fd/%d", notes);
  int reader = open(self, O_RDONLY);
  CHECK(reader >= 0, "reopen read-only");

  int ring_fd = memfd_create("amber-ring", 0);
  CHECK(ring_fd >= 0 && ftruncate(ring_fd, RING_SIZE) == 0, "ring memfd");
  char *ring = mmap(NULL, RING_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, ring_fd, 0);
  CHECK(ring != MAP_FAILED, "mmap the ring");
  strcpy(ring, "before");

  pid_t child = fork();
  if (child == 0) {
    wait_go(argv[1]);
    char c;
    CHECK(read(notes, &c, 1) == 1 && c == 'm', "the child reads the shared offset: %c", c);
    strcpy(ring + 100, "from the child");
    return 0;
  }
  say_ready();
  wait_go(argv[1]);

  check_name(notes, "amber-notes");
  check_name(ring_fd, "amber-ring");
  int status;
  CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "the child failed");
  CHECK(lseek(notes, 0, SEEK_CUR) == 7, "the offset the child moved is shared");
  char buf[16] = {0};
  CHECK(pread(notes, buf, 11, 0) == 11 && !memcmp(buf, "hello memfd", 11), "head: %s", buf);
  CHECK(pread(notes, buf, 4, NOTES_SIZE - 4) == 4 && !memcmp(buf, "tail", 4), "tail");
  CHECK(pread(notes, buf, 4, 4096) == 4 && !memcmp(buf, "\0\0\0\0", 4), "the hole is zeros");
  CHECK(lseek(notes, 0, SEEK_END) == NOTES_SIZE, "size");
  CHECK(fcntl(notes, F_GET_SEALS) == SEALS, "seals are %d", fcntl(notes, F_GET_SEALS));
  CHECK(ftruncate(notes, 10) != 0, "the size seal holds");
  CHECK(write(reader, "x", 1) < 0, "the read-only open stays read-only");
  CHECK(pread(reader, buf, 5, 0) == 5 && !memcmp(buf, "hello", 5), "the read-only open reads");

  CHECK(!strcmp(ring, "before"), "the ring holds %s", ring);
  CHECK(!strcmp(ring + 100, "from the child"), "the child's write shows: %s", ring + 100);
  CHECK(pwrite(ring_fd, "through fd", 11, 200) == 11, "pwrite the ring");
  CHECK(!strcmp(ring + 200, "through fd"), "a write through the descriptor shows in memory");
  strcpy(ring + 300, "through memory");
  CHECK(pread(ring_fd, buf, 15, 300) == 15 && !strcmp(buf, "through memory"),
        "a write to memory shows through the descriptor: %s", buf);
  printf("PASS\n");
  return 0;
}
