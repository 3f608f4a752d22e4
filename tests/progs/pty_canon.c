/* Input not read yet on pseudo-terminals in canonical mode, with echo: complete lines ended by a
 * newline, by VEOL (';'), by EOF (^D, once at the start of a line: a read of 0), and a line
 * still being typed ("helx" then an erase: "hel"), and one with a newline and a ^S typed
 * literally (LNEXT) in it. Two pseudo-terminals: on A nobody has read
 * the echo (it must come back as it was, once), on B the program read it before the snapshot.
 * After <dir>/go the program types "lo\n" on each master; each slave reads "one\n", "two\n",
 * "semi;", "" (EOF), "eof-line", "a\nb^S\n" and "hello\n", one line a read; each master reads exactly the
 * echo not read yet (A: all of it; B: "lo\r\n"), nothing more; the modes are as they were.
 *
 *   pty_canon DIR */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>

#include "check.h"
#include "wait_go.h"

/* "a\nb^S\n" typed with LNEXT (^V) before the first newline and the ^S: one line */
#define TYPED "one\ntwo\nsemi;\004eof-line\004a\026\nb\026\023\nhelx\177"
#define ECHOED "one\r\ntwo\r\nsemi;eof-linea\r\nb\023\r\nhelx\b \b" /* ECHOE erases */
#define LINE_BYTES 26 /* "one\ntwo\nsemi;eof-linea\nb\023\n": FIONREAD counts no EOF */

struct pty {
  int master, slave;
  struct termios modes;
};

static void make(struct pty *p) {
  p->master = posix_openpt(O_RDWR | O_NOCTTY);
  CHECK(p->master >= 0 && grantpt(p->master) == 0 && unlockpt(p->master) == 0,
        "openpt: errno %d", errno);
  p->slave = open(ptsname(p->master), O_RDWR | O_NOCTTY);
  CHECK(p->slave >= 0, "open the slave: errno %d", errno);
  struct termios t;
  CHECK(tcgetattr(p->slave, &t) == 0, "tcgetattr");
  t.c_lflag |= ICANON | ECHO | ECHOE | ISIG | IEXTEN;
  t.c_lflag &= ~(ECHOCTL | ECHOPRT | ECHOKE | ECHONL);
  t.c_oflag |= OPOST | ONLCR;
  t.c_cc[VEOF] = 4;
  t.c_cc[VERASE] = 0177;
  t.c_cc[VEOL] = ';';
  CHECK(tcsetattr(p->slave, TCSANOW, &t) == 0, "tcsetattr");
  CHECK(tcgetattr(p->slave, &p->modes) == 0, "tcgetattr");
  CHECK(write(p->master, TYPED, sizeof TYPED - 1) == sizeof TYPED - 1, "type: errno %d", errno);
}

/* Until the master has `len` bytes of echo to read and the slave its lines. */
static void settle(const struct pty *p, int len) {
  int echoed = 0, lines = 0;
  for (int i = 0; (echoed < len || lines < LINE_BYTES) && i < 2500; i++) {
    CHECK(ioctl(p->master, FIONREAD, &echoed) == 0 && ioctl(p->slave, FIONREAD, &lines) == 0,
          "FIONREAD");
    usleep(2000);
  }
  CHECK(echoed == len && lines == LINE_BYTES, "%d bytes of echo, %d of lines", echoed, lines);
}

/* One read of fd within a few seconds, into buf (len bytes). */
static ssize_t one_read(int fd, char *buf, size_t cap, const char *who) {
  struct pollfd w = {fd, POLLIN, 0};
  CHECK(poll(&w, 1, 5000) == 1, "%s: nothing to read", who);
  ssize_t n = read(fd, buf, cap);
  CHECK(n >= 0, "%s: read: errno %d", who, errno);
  return n;
}

/* Exactly `want` from the master, then nothing more for a moment. */
static void expect_echo(int master, const char *want, const char *who) {
  char buf[256];
  size_t len = strlen(want), got = 0;
  while (got < len) got += (size_t)one_read(master, buf + got, sizeof buf - got, who);
  CHECK(got == len && !memcmp(buf, want, len), "%s: the master read '%.*s', not '%s'", who,
        (int)got, buf, want);
  struct pollfd w = {master, POLLIN, 0};
  CHECK(poll(&w, 1, 100) == 0, "%s: the master has more than '%s'", who, want);
}

static void check(const struct pty *p, const char *echo, const char *who) {
  static const char *const lines[] = {"one\n", "two\n",        "semi;",  "",
                                      "eof-line", "a\nb\023\n", "hello\n"};
  CHECK(write(p->master, "lo\n", 3) == 3, "%s: type: errno %d", who, errno);
  for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
    char buf[256];
    ssize_t n = one_read(p->slave, buf, sizeof buf, who);
    CHECK((size_t)n == strlen(lines[i]) && !memcmp(buf, lines[i], (size_t)n),
          "%s: line %zu is '%.*s', not '%s'", who, i + 1, (int)n, buf, lines[i]);
  }
  struct pollfd w = {p->slave, POLLIN, 0};
  CHECK(poll(&w, 1, 100) == 0, "%s: the slave has more lines", who);
  expect_echo(p->master, echo, who);
  struct termios now;
  CHECK(tcgetattr(p->slave, &now) == 0, "tcgetattr");
  CHECK(now.c_iflag == p->modes.c_iflag && now.c_oflag == p->modes.c_oflag &&
            now.c_lflag == p->modes.c_lflag && now.c_cflag == p->modes.c_cflag &&
            !memcmp(now.c_cc, p->modes.c_cc, sizeof now.c_cc),
        "%s: the modes changed", who);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  CHECK(argc == 2, "usage: pty_canon DIR");
  struct pty a, b;
  make(&a);
  make(&b);
  settle(&a, sizeof ECHOED - 1);
  settle(&b, sizeof ECHOED - 1);
  expect_echo(b.master, ECHOED, "B before the snapshot");
  say_ready();
  wait_go(argv[1]);
  check(&a, ECHOED "lo\r\n", "A");
  check(&b, "lo\r\n", "B");
  printf("PASS\n");
  return 0;
}
