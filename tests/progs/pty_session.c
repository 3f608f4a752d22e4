/* A pseudo-terminal made inside the application, as `script` or a terminal multiplexer makes
 * one: the parent holds the master; a child starts a session whose controlling terminal is the
 * slave, in raw mode with an odd interrupt character, a window size and itself in the
 * foreground, and waits in read() on it when the snapshot lands. After the restore the parent
 * types "ping" on the master; the child, checking that its terminal kept every mode, answers
 * "pong" and a verdict; the parent says PASS.
 *
 *   pty_session DIR */
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

static void child(const char *dir, int master, int ready) {
  (void)dir;
  close(master);
  CHECK(setsid() > 0, "setsid: errno %d", errno);
  int t = open(getenv("PTY_NAME"), O_RDWR); /* a session leader's first terminal: it controls */
  CHECK(t >= 0, "open the slave: errno %d", errno);
  struct termios tio;
  CHECK(tcgetattr(t, &tio) == 0, "tcgetattr");
  tio.c_lflag &= ~(ICANON | ECHO);
  tio.c_cc[VMIN] = 4;
  tio.c_cc[VTIME] = 0;
  tio.c_cc[VINTR] = 7;
  CHECK(tcsetattr(t, TCSANOW, &tio) == 0, "tcsetattr");
  struct winsize ws = {.ws_row = 33, .ws_col = 101};
  CHECK(ioctl(t, TIOCSWINSZ, &ws) == 0, "TIOCSWINSZ");
  CHECK(tcsetpgrp(t, getpgrp()) == 0, "tcsetpgrp: errno %d", errno);
  CHECK(write(ready, "r", 1) == 1, "ready");
  char buf[8];
  ssize_t n = read(t, buf, 4); /* blocked here when the snapshot lands */
  CHECK(n == 4 && !memcmp(buf, "ping", 4), "the child read %zd bytes (errno %d)", n, errno);
  struct termios now;
  struct winsize ws2;
  char verdict = 'P';
  if (tcgetattr(t, &now) || (now.c_lflag & (ICANON | ECHO)) || now.c_cc[VMIN] != 4 ||
      now.c_cc[VINTR] != 7)
    verdict = 'm';
  else if (ioctl(t, TIOCGWINSZ, &ws2) || ws2.ws_row != 33 || ws2.ws_col != 101)
    verdict = 'w';
  else if (tcgetpgrp(t) != getpgrp() || tcgetsid(t) != getsid(0)) {
    printf("child: foreground %d (errno %d), group %d, terminal's session %d, session %d\n",
           (int)tcgetpgrp(t), errno, (int)getpgrp(), (int)tcgetsid(t), (int)getsid(0));
    verdict = 'c';
  }
  else if (open("/dev/tty", O_RDWR) < 0)
    verdict = 't';
  CHECK(write(t, "pong", 4) == 4 && write(t, &verdict, 1) == 1, "answer: errno %d", errno);
  exit(0);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  CHECK(argc == 2, "usage: pty_session DIR");
  int master;
  pid_t kid = pty_child(argv[1], &master, child);
  say_ready();
  wait_go(argv[1]);
  CHECK(write(master, "ping", 4) == 4, "type: errno %d", errno);
  char buf[8];
  size_t got = 0;
  while (got < 5) {
    struct pollfd p = {master, POLLIN, 0};
    CHECK(poll(&p, 1, 10000) == 1, "no answer from the child (%zu bytes)", got);
    ssize_t n = read(master, buf + got, 5 - got);
    CHECK(n > 0, "read the master: errno %d", errno);
    got += (size_t)n;
  }
  CHECK(!memcmp(buf, "pong", 4), "the child answered %.4s", buf);
  CHECK(buf[4] == 'P', "the child's terminal lost something: %c", buf[4]);
  int status;
  CHECK(waitpid(kid, &status, 0) == kid && WIFEXITED(status) && !WEXITSTATUS(status),
        "the child failed");
  printf("PASS\n");
  return 0;
}
