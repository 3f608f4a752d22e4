/* Bytes not read yet on a pseudo-terminal made in the application, both ways: the child, in a
 * session of its own on the slave in raw mode but with output processing (ONLCR), writes "out
 * line\n" that the parent has not read (the master holds "out line\r\n"); the parent types
 * "typed!" on the master that the child has not read. After <dir>/go: the parent reads exactly
 * "out line\r\n" from the master (processed once, not twice, and no echo), the child exactly
 * "typed!" from the slave, its modes as they were, and answers "ok" (once the parent has
 * checked that nothing followed its bytes, and made <dir>/answer); the parent says PASS.
 *
 *   pty_bytes DIR */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>

#include "check.h"
#include "pty_child.h"
#include "wait_go.h"

/* Exactly len bytes from fd within a few seconds, and then nothing more for a moment. */
static void expect_exactly(int fd, const char *want, const char *who) {
  char buf[64];
  size_t len = strlen(want), got = 0;
  while (got < len) {
    struct pollfd p = {fd, POLLIN, 0};
    CHECK(poll(&p, 1, 5000) == 1, "%s: only %zu bytes came", who, got);
    ssize_t n = read(fd, buf + got, sizeof buf - got);
    CHECK(n > 0, "%s: read: errno %d", who, errno);
    got += (size_t)n;
  }
  CHECK(got == len && !memcmp(buf, want, len), "%s: read %zu bytes '%.*s', not '%s'", who, got,
        (int)got, buf, want);
  struct pollfd p = {fd, POLLIN, 0}; /* a hang-up (the other end gone) is no byte */
  CHECK(poll(&p, 1, 100) == 0 || !(p.revents & POLLIN), "%s: more bytes than '%s'", who, want);
}

static void child(const char *dir, int master, int ready) {
  close(master);
  CHECK(setsid() > 0, "setsid: errno %d", errno);
  int t = open(getenv("PTY_NAME"), O_RDWR);
  CHECK(t >= 0, "open the slave: errno %d", errno);
  struct termios tio;
  CHECK(tcgetattr(t, &tio) == 0, "tcgetattr");
  tio.c_lflag &= ~(ICANON | ECHO);
  tio.c_oflag |= OPOST | ONLCR;
  tio.c_cc[VMIN] = 1;
  tio.c_cc[VTIME] = 0;
  CHECK(tcsetattr(t, TCSANOW, &tio) == 0, "tcsetattr");
  CHECK(write(t, "out line\n", 9) == 9, "write the slave: errno %d", errno);
  CHECK(write(ready, "r", 1) == 1, "ready");
  wait_go(dir);
  expect_exactly(t, "typed!", "the child");
  char answer[4096]; /* once the parent has checked that nothing follows its bytes */
  snprintf(answer, sizeof answer, "%s/answer", dir);
  while (access(answer, F_OK)) usleep(5000);
  struct termios now;
  CHECK(tcgetattr(t, &now) == 0 && !(now.c_lflag & (ICANON | ECHO)) && (now.c_oflag & ONLCR) &&
            (now.c_iflag & ICRNL) == (tio.c_iflag & ICRNL),
        "the child's terminal modes changed");
  CHECK(write(t, "ok", 2) == 2, "answer: errno %d", errno);
  exit(0);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  CHECK(argc == 2, "usage: pty_bytes DIR");
  int master;
  pid_t kid = pty_child(argv[1], &master, child);
  CHECK(write(master, "typed!", 6) == 6, "type: errno %d", errno);
  for (int i = 0, queued = 0; queued < 10 && i < 500; i++) { /* both ways in the kernel */
    CHECK(ioctl(master, FIONREAD, &queued) == 0, "FIONREAD");
    usleep(2000);
  }
  say_ready();
  wait_go(argv[1]);
  expect_exactly(master, "out line\r\n", "the parent");
  char answer[4096];
  snprintf(answer, sizeof answer, "%s/answer", argv[1]);
  int a = open(answer, O_WRONLY | O_CREAT, 0600);
  CHECK(a >= 0, "create %s: errno %d", answer, errno);
  close(a);
  expect_exactly(master, "ok", "the child's answer");
  int status;
  CHECK(waitpid(kid, &status, 0) == kid && WIFEXITED(status) && !WEXITSTATUS(status),
        "the child failed");
  printf("PASS\n");
  return 0;
}
