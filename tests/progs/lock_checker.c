/* Run outside Amber, beside file_locks: "held PID CHILD" checks that every lock file_locks took
 * in DIR is held, with its exact type and range, its POSIX locks by system pids PID (the parent)
 * and CHILD; "free" that each can be taken. Says PASS, or FAIL and why. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "check.h"

static const char *dir;

static int open_in(const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  int fd = open(path, O_RDWR);
  CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
  return fd;
}

static int range_lock(int fd, int cmd, int type, off_t start, off_t len) {
  struct flock fl = {.l_type = (short)type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
  return fcntl(fd, cmd, &fl);
}

static int busy(int r) { return r == -1 && (errno == EAGAIN || errno == EACCES); }

/* Takes a lock (it must be free) and gives it back. */
static void can_take(int fd, int cmd, int type, off_t start, off_t len, const char *what) {
  CHECK(range_lock(fd, cmd, type, start, len) == 0, "%s cannot be taken: %s", what,
        strerror(errno));
  CHECK(range_lock(fd, cmd, F_UNLCK, start, len) == 0, "unlock %s", what);
}

static void held(pid_t pid, pid_t child) {
  int fd = open_in("flock-shared");
  CHECK(flock(fd, LOCK_SH | LOCK_NB) == -1 && errno == EWOULDBLOCK, "flock-shared is not held");
  close(fd);
  fd = open_in("flock-child");
  CHECK(flock(fd, LOCK_EX | LOCK_NB) == -1 && errno == EWOULDBLOCK, "flock-child is not held");
  CHECK(flock(fd, LOCK_SH | LOCK_NB) == 0, "flock-child is held, but not shared");
  close(fd);

  fd = open_in("posix");
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 100};
  CHECK(fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type == F_WRLCK && fl.l_pid == pid &&
            fl.l_start == 0 && fl.l_len == 100,
        "posix 0-99: type %d pid %d (want %d) %ld+%ld", fl.l_type, fl.l_pid, pid,
        (long)fl.l_start, (long)fl.l_len);
  CHECK(busy(range_lock(fd, F_SETLK, F_RDLCK, 50, 1)), "posix 0-99 can be read-locked");
  CHECK(busy(range_lock(fd, F_SETLK, F_WRLCK, 250, 1)), "posix 200-299 can be write-locked");
  can_take(fd, F_SETLK, F_RDLCK, 200, 100, "a read lock on posix 200-299");
  can_take(fd, F_SETLK, F_WRLCK, 100, 100, "posix 100-199");
  can_take(fd, F_SETLK, F_WRLCK, 300, 200, "posix 300-499");
  can_take(fd, F_SETLK, F_WRLCK, 600, 400, "posix 600-999");
  fl = (struct flock){.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 599, .l_len = 1};
  CHECK(fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type == F_WRLCK && fl.l_pid == child &&
            fl.l_start == 500 && fl.l_len == 100,
        "posix 500-599: type %d pid %d (want %d) %ld+%ld", fl.l_type, fl.l_pid, child,
        (long)fl.l_start, (long)fl.l_len);
  CHECK(busy(range_lock(fd, F_SETLK, F_RDLCK, 1 << 30, 1)), "posix from 1000 on can be read-locked");
  close(fd);

  fd = open_in("ofd");
  fl = (struct flock){.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 10, .l_len = 10};
  CHECK(fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type == F_WRLCK && fl.l_pid == -1 &&
            fl.l_start == 10 && fl.l_len == 10,
        "ofd 10-19: type %d pid %d %ld+%ld", fl.l_type, fl.l_pid, (long)fl.l_start,
        (long)fl.l_len);
  CHECK(busy(range_lock(fd, F_OFD_SETLK, F_WRLCK, 35, 1)), "ofd 30-39 can be write-locked");
  can_take(fd, F_OFD_SETLK, F_RDLCK, 30, 10, "a read lock on ofd 30-39");
  can_take(fd, F_OFD_SETLK, F_WRLCK, 20, 10, "ofd 20-29");
  close(fd);
}

static void free_now(void) {
  const char *flocked[] = {"flock-shared", "flock-child"};
  for (int i = 0; i < 2; i++) {
    int fd = open_in(flocked[i]);
    CHECK(flock(fd, LOCK_EX | LOCK_NB) == 0, "%s is still held", flocked[i]);
    close(fd);
  }
  int fd = open_in("posix");
  can_take(fd, F_SETLK, F_WRLCK, 0, 0, "all of posix");
  close(fd);
  fd = open_in("ofd");
  can_take(fd, F_OFD_SETLK, F_WRLCK, 0, 0, "all of ofd");
  close(fd);
}

int main(int argc, char **argv) {
  CHECK(argc >= 3, "usage: lock_checker DIR held PID CHILD | free");
  dir = argv[1];
  if (!strcmp(argv[2], "held")) held(argc > 4 ? atoi(argv[3]) : 0, argc > 4 ? atoi(argv[4]) : 0);
  else free_now();
  printf("PASS\n");
  return 0;
}
