/* Files a program makes in /dev/shm by path, not by shm_open, then writes and closes (no process
 * maps or holds them): by open, by openat in a descriptor of /dev/shm, by creat, by mkstemp then
 * renamed to its name, by fopen, and by open of a name relative to /dev/shm as working
 * directory; one made and unlinked, one made and removed. After the restore (the test removed
 * them from /dev/shm meanwhile, as on another computer) the six are back at their names with
 * their mode and every byte, and the two removed ones and mkstemp's first name are still gone. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "wait_go.h"

#define KEPT 6
#define SIZE 5000
static const char *how[KEPT + 2] = {"open", "openat", "creat", "renamed", "fopen", "relative",
                                    "unlinked", "removed"};
static char path[KEPT + 2][300], temp[300];

static char byte(int k, int i) { return (char)('a' + (k * 5 + i) % 26); }

static void fill(int k, int fd) {
  char data[SIZE];
  for (int i = 0; i < SIZE; i++) data[i] = byte(k, i);
  CHECK(write(fd, data, SIZE) == SIZE, "write %s", path[k]);
  CHECK(close(fd) == 0, "close %s", path[k]);
}

static int made(int k) {
  char name[300];
  snprintf(name, sizeof name, "%s", strrchr(path[k], '/') + 1);
  if (k == 1) {
    int dir = open("/dev/shm", O_RDONLY | O_DIRECTORY);
    CHECK(dir >= 0, "open /dev/shm");
    int fd = openat(dir, name, O_CREAT | O_EXCL | O_WRONLY, 0640);
    close(dir);
    return fd;
  }
  if (k == 2) return creat(path[k], 0640);
  if (k == 3) {
    int fd = mkstemp(temp);
    CHECK(fd >= 0 && fchmod(fd, 0640) == 0, "mkstemp %s", temp);
    CHECK(rename(temp, path[k]) == 0, "rename %s", temp);
    return fd;
  }
  if (k == 4) { /* written through stdio: a descriptor of the same file to fill */
    FILE *f = fopen(path[k], "w");
    CHECK(f && fchmod(fileno(f), 0640) == 0, "fopen %s", path[k]);
    int fd = dup(fileno(f));
    CHECK(fclose(f) == 0, "fclose");
    return fd;
  }
  if (k == 5) {
    char cwd[4096];
    CHECK(getcwd(cwd, sizeof cwd) && chdir("/dev/shm") == 0, "chdir /dev/shm");
    int fd = open(name, O_CREAT | O_EXCL | O_WRONLY, 0640);
    CHECK(chdir(cwd) == 0, "chdir back");
    return fd;
  }
  return open(path[k], O_CREAT | O_EXCL | O_WRONLY, 0640);
}

int main(int argc, char **argv) {
  CHECK(argc == 3, "usage: shm_by_path DIR PREFIX");
  umask(0);
  for (int k = 0; k < KEPT + 2; k++) snprintf(path[k], sizeof path[k], "/dev/shm/%s-%s", argv[2], how[k]);
  snprintf(temp, sizeof temp, "/dev/shm/%s-temp-XXXXXX", argv[2]);
  for (int k = 0; k < KEPT + 2; k++) {
    int fd = made(k);
    CHECK(fd >= 0, "making %s: %d", path[k], errno);
    fill(k, fd);
  }
  CHECK(unlink(path[KEPT]) == 0, "unlink");
  CHECK(remove(path[KEPT + 1]) == 0, "remove");
  say_ready();
  wait_go(argv[1]);

  for (int k = 0; k < KEPT; k++) {
    int fd = open(path[k], O_RDONLY);
    CHECK(fd >= 0, "%s is gone: %d", path[k], errno);
    struct stat st;
    CHECK(fstat(fd, &st) == 0 && st.st_size == SIZE, "%s: size %ld", path[k], (long)st.st_size);
    CHECK((st.st_mode & 0777) == 0640, "%s: mode %o", path[k], st.st_mode & 0777);
    char got[SIZE];
    CHECK(read(fd, got, SIZE) == SIZE, "read %s", path[k]);
    for (int i = 0; i < SIZE; i++) CHECK(got[i] == byte(k, i), "%s: byte %d is %d", path[k], i, got[i]);
    close(fd);
  }
  for (int k = KEPT; k < KEPT + 2; k++)
    CHECK(access(path[k], F_OK) < 0 && errno == ENOENT, "the removed %s is back", path[k]);
  CHECK(access(temp, F_OK) < 0 && errno == ENOENT, "mkstemp's name %s is back", temp);
  for (int k = 0; k < KEPT; k++) unlink(path[k]);
  printf("PASS\n");
  return 0;
}
