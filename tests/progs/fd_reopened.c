/* Descriptor states that came back wrong after a restore:
 *  pipe:    a pipe reopened through /proc/self/fd (a non-blocking reader and a read-write
 *           description beside the pipe's own ends), and a second pipe: each description keeps
 *           its own flags, the read-write one reads and writes the same pipe, bytes waiting in
 *           each pipe stay in that pipe;
 *  stdin:   fd 0 reopened by the program itself on the file the launcher gave it (/dev/null,
 *           non-blocking): it is the program's own description, not the launcher's stream, and
 *           must not be reattached to the restoring command's;
 *  stdin-file: fd 0 is the launcher's, on a file (amber run PROG < FILE): it comes back on the
 *           file at its offset, not on the restoring command's stdin;
 *  owner:   an unlinked file owned by nobody:nogroup, mode 0604: owner and mode come back.
 *
 *   fd_reopened DIR pipe|stdin|stdin-file|owner */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "wait_go.h"

static int reopen(int fd, int flags) {
  char self[64];
  snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
  int r = open(self, flags);
  CHECK(r >= 0, "reopen %s: errno %d", self, errno);
  return r;
}

static void expect_read(int fd, const char *want, const char *what) {
  char buf[32];
  ssize_t n = read(fd, buf, strlen(want));
  CHECK(n == (ssize_t)strlen(want) && !memcmp(buf, want, n), "%s: read %zd (errno %d)", what, n,
        errno);
}

static int pipe_mode(const char *dir) {
  int p[2], q[2];
  CHECK(pipe(p) == 0 && pipe(q) == 0, "pipe");
  int nb = reopen(p[0], O_RDONLY | O_NONBLOCK);
  int rw = reopen(p[0], O_RDWR);
  CHECK(write(p[1], "first", 5) == 5 && write(q[1], "other", 5) == 5, "write");
  say_ready();
  wait_go(dir);
  struct stat a, b;
  CHECK(fstat(p[0], &a) == 0, "fstat");
  CHECK(fstat(nb, &b) == 0 && b.st_ino == a.st_ino && fstat(rw, &b) == 0 && b.st_ino == a.st_ino,
        "a reopened description is on another pipe");
  CHECK(fcntl(nb, F_GETFL) & O_NONBLOCK, "the reopened reader lost O_NONBLOCK");
  CHECK(!(fcntl(p[0], F_GETFL) & O_NONBLOCK), "the pipe's own reader became non-blocking");
  CHECK((fcntl(rw, F_GETFL) & O_ACCMODE) == O_RDWR, "the read-write description is %o",
        fcntl(rw, F_GETFL) & O_ACCMODE);
  expect_read(nb, "first", "the waiting bytes");
  char c;
  CHECK(read(nb, &c, 1) < 0 && errno == EAGAIN, "more bytes in the pipe");
  CHECK(write(rw, "rw", 2) == 2, "write through the read-write description: errno %d", errno);
  expect_read(p[0], "rw", "the pipe's own reader");
  expect_read(q[0], "other", "the other pipe's bytes");
  CHECK(write(p[1], "end", 3) == 3, "write end");
  expect_read(rw, "end", "the read-write description");
  return 0;
}

static int stdin_mode(const char *dir) {
  struct stat launcher, mine;
  CHECK(fstat(0, &launcher) == 0, "fstat 0");
  int fd = reopen(0, O_RDONLY | O_NONBLOCK);
  CHECK(dup2(fd, 0) == 0, "dup2");
  close(fd);
  say_ready();
  wait_go(dir);
  CHECK(fstat(0, &mine) == 0, "fstat 0 after");
  CHECK(mine.st_dev == launcher.st_dev && mine.st_ino == launcher.st_ino,
        "fd 0 is on another file");
  CHECK(fcntl(0, F_GETFL) & O_NONBLOCK, "fd 0 is the restoring command's stream, not the program's");
  return 0;
}

static int stdin_file_mode(const char *dir) {
  char buf[16] = {0};
  CHECK(read(0, buf, 6) == 6 && !memcmp(buf, "first\n", 6), "the first line: %s", buf);
  say_ready();
  wait_go(dir);
  struct stat st;
  CHECK(fstat(0, &st) == 0 && S_ISREG(st.st_mode), "fd 0 is not the file any more");
  CHECK(read(0, buf, 7) == 7 && !memcmp(buf, "second\n", 7), "the next line: %.7s", buf);
  return 0;
}

static int owner_mode(const char *dir) {
  char path[4096];
  snprintf(path, sizeof path, "%s/owned", dir);
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
  CHECK(fd >= 0 && write(fd, "owned", 5) == 5, "create");
  CHECK(fchown(fd, 65534, 65534) == 0 && fchmod(fd, 0604) == 0, "chown: errno %d", errno);
  CHECK(unlink(path) == 0, "unlink");
  say_ready();
  wait_go(dir);
  struct stat st;
  CHECK(fstat(fd, &st) == 0 && st.st_nlink == 0, "not deleted");
  CHECK(st.st_uid == 65534 && st.st_gid == 65534, "owned by %d:%d", (int)st.st_uid,
        (int)st.st_gid);
  CHECK((st.st_mode & 07777) == 0604, "mode %o", st.st_mode & 07777);
  char buf[8];
  CHECK(pread(fd, buf, 5, 0) == 5 && !memcmp(buf, "owned", 5), "bytes");
  return 0;
}

int main(int argc, char **argv) {
  CHECK(argc == 3, "usage: fd_reopened DIR pipe|stdin|stdin-file|owner");
  const char *mode = argv[2];
  int r = !strcmp(mode, "pipe")         ? pipe_mode(argv[1])
          : !strcmp(mode, "stdin")      ? stdin_mode(argv[1])
          : !strcmp(mode, "stdin-file") ? stdin_file_mode(argv[1])
                                        : owner_mode(argv[1]);
  if (r == 0) printf("PASS\n");
  return r;
}
