/* Named FIFOs across a restore, with unread bytes in them:
 *  one:  one process holds <dir>/fifo open for reading (blocking) and for writing, and
 *        <dir>/fifo2 open for reading and writing (non-blocking); both hold unread bytes;
 *  fork: a parent holds <dir>/fifo for writing, its child for reading, bytes unread.
 * After <dir>/go: the descriptors are on the FIFO at the path (an open of it reaches them),
 * keep their flags, the bytes come out once and in order, and the reader sees end-of-file once
 * its writers close (no stray writer kept it open).
 *
 * With "outside": see outside_mode.
 *
 *   fifo_state DIR one|fork|outside */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "check.h"
#include "wait_go.h"

static void expect_read(int fd, const char *want, const char *what) {
  char buf[64];
  size_t len = strlen(want), got = 0;
  while (got < len) {
    ssize_t n = read(fd, buf + got, len - got);
    CHECK(n > 0, "%s: read %zd after %zu bytes (errno %d)", what, n, got, errno);
    got += (size_t)n;
  }
  CHECK(!memcmp(buf, want, len), "%s: read '%.*s', not '%s'", what, (int)len, buf, want);
}

static void expect_path(int fd, const char *path) {
  struct stat a, b;
  CHECK(fstat(fd, &a) == 0 && stat(path, &b) == 0, "stat %s", path);
  CHECK(S_ISFIFO(a.st_mode) && a.st_ino == b.st_ino && a.st_dev == b.st_dev,
        "descriptor %d is not on the FIFO %s", fd, path);
}

static void expect_eof(int fd, const char *what) {
  char c;
  ssize_t n = read(fd, &c, 1);
  CHECK(n == 0, "%s: read %zd (errno %d), not end-of-file: a writer is still there", what, n,
        errno);
}

static int one_mode(const char *dir) {
  char path[4096], path2[4096];
  snprintf(path, sizeof path, "%s/fifo", dir);
  snprintf(path2, sizeof path2, "%s/fifo2", dir);
  CHECK(mkfifo(path, 0600) == 0 && mkfifo(path2, 0600) == 0, "mkfifo: errno %d", errno);
  int r = open(path, O_RDONLY | O_NONBLOCK);
  int w = open(path, O_WRONLY);
  CHECK(r >= 0 && w >= 0, "open %s: errno %d", path, errno);
  CHECK(fcntl(r, F_SETFL, 0) == 0, "F_SETFL");
  int rw = open(path2, O_RDWR | O_NONBLOCK);
  CHECK(rw >= 0, "open %s: errno %d", path2, errno);
  CHECK(write(w, "hello fifo", 10) == 10 && write(rw, "both ways", 9) == 9, "write: errno %d",
        errno);
  say_ready();
  wait_go(dir);
  expect_path(r, path);
  expect_path(w, path);
  expect_path(rw, path2);
  CHECK((fcntl(r, F_GETFL) & (O_ACCMODE | O_NONBLOCK)) == O_RDONLY, "the reader's flags: %o",
        fcntl(r, F_GETFL));
  CHECK((fcntl(w, F_GETFL) & (O_ACCMODE | O_NONBLOCK)) == O_WRONLY, "the writer's flags: %o",
        fcntl(w, F_GETFL));
  CHECK((fcntl(rw, F_GETFL) & (O_ACCMODE | O_NONBLOCK)) == (O_RDWR | O_NONBLOCK),
        "the read-write description's flags: %o", fcntl(rw, F_GETFL));
  expect_read(r, "hello fifo", "the unread bytes");
  expect_read(rw, "both ways", "the read-write FIFO's unread bytes");
  char c;
  CHECK(read(rw, &c, 1) < 0 && errno == EAGAIN, "more bytes in %s", path2);
  /* A writer that opens the path now reaches the restored reader. */
  int w2 = open(path, O_WRONLY | O_NONBLOCK);
  CHECK(w2 >= 0, "open %s for writing: errno %d (no reader on the path's FIFO)", path, errno);
  CHECK(write(w2, "new", 3) == 3 && write(w, "old", 3) == 3, "write after: errno %d", errno);
  expect_read(r, "newold", "bytes written after the restore");
  close(w2);
  close(w);
  expect_eof(r, "the reader once its writers closed");
  printf("PASS\n");
  return 0;
}

static int fork_mode(const char *dir) {
  char path[4096];
  snprintf(path, sizeof path, "%s/fifo", dir);
  CHECK(mkfifo(path, 0600) == 0, "mkfifo: errno %d", errno);
  pid_t child = fork();
  CHECK(child >= 0, "fork");
  if (child == 0) {
    int r = open(path, O_RDONLY); /* waits for the parent's open */
    CHECK(r >= 0, "child: open: errno %d", errno);
    wait_go(dir);
    expect_path(r, path);
    expect_read(r, "from the parent", "the child's unread bytes");
    expect_read(r, "after", "bytes written after the restore");
    expect_eof(r, "the child once the parent closed");
    exit(0);
  }
  int w = open(path, O_WRONLY);
  CHECK(w >= 0, "open: errno %d", errno);
  CHECK(write(w, "from the parent", 15) == 15, "write");
  say_ready();
  wait_go(dir);
  expect_path(w, path);
  CHECK(write(w, "after", 5) == 5, "write after: errno %d", errno);
  close(w);
  int status;
  CHECK(waitpid(child, &status, 0) == child, "waitpid: errno %d", errno);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child failed: status %#x", status);
  printf("PASS\n");
  return 0;
}

/* Holds <dir>/fifo open for reading and writing, for a process outside the application to open
 * too; prints "tick N" every 20 ms until <dir>/go, then PASS. */
static int outside_mode(const char *dir) {
  char path[4096];
  snprintf(path, sizeof path, "%s/fifo", dir);
  CHECK(mkfifo(path, 0600) == 0, "mkfifo: errno %d", errno);
  int fd = open(path, O_RDWR);
  CHECK(fd >= 0, "open: errno %d", errno);
  tick_until_go(dir);
  printf("PASS\n");
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  CHECK(argc == 3, "usage: fifo_state DIR one|fork|outside");
  if (!strcmp(argv[2], "outside")) return outside_mode(argv[1]);
  if (!strcmp(argv[2], "one")) return one_mode(argv[1]);
  if (!strcmp(argv[2], "fork")) return fork_mode(argv[1]);
  CHECK(0, "unknown mode %s", argv[2]);
}
