/* POSIX message queues across a restore. A queue /amber-mq-<tag> (mode 0640, at most 8
 * messages of 64 bytes, non-blocking) holds four messages of three priorities; a second
 * description of it is open write-only; a forked child holds the first description too. A
 * second queue, unlinked, holds one message. After <dir>/go: the attributes, mode and messages
 * (highest priority first, in order within one) are as they were, the write-only description
 * and the child's reach the same queue, the name opens it again, and the unlinked queue is
 * still unlinked with its message. With "notify" instead: the queue has a notification
 * registered (mq_notify), which a snapshot must refuse; it prints "tick N" every 20 ms until
 * <dir>/go, then PASS.
 *
 *   mq_state DIR [notify] */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <mqueue.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "check.h"
#include "wait_go.h"

static void expect(mqd_t q, const char *want, unsigned want_prio, const char *what) {
  char buf[64];
  unsigned prio = 0;
  ssize_t n = mq_receive(q, buf, sizeof buf, &prio);
  CHECK(n == (ssize_t)strlen(want) && !memcmp(buf, want, (size_t)n) && prio == want_prio,
        "%s: got %zd bytes '%.*s' priority %u (errno %d), not '%s' priority %u", what, n,
        n > 0 ? (int)n : 0, buf, prio, errno, want, want_prio);
}

static void send(mqd_t q, const char *text, unsigned prio) {
  CHECK(mq_send(q, text, strlen(text), prio) == 0, "mq_send '%s': errno %d", text, errno);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  CHECK(argc >= 2, "usage: mq_state DIR [notify]");
  char tag[256], name[300], gone[320];
  snprintf(tag, sizeof tag, "%s", argv[1]);
  snprintf(name, sizeof name, "/amber-mq-%s", basename(tag));
  snprintf(gone, sizeof gone, "%s-gone", name);
  struct mq_attr attr = {.mq_maxmsg = 8, .mq_msgsize = 64};
  umask(0);
  mqd_t q = mq_open(name, O_CREAT | O_EXCL | O_RDWR | O_NONBLOCK, 0640, &attr);
  CHECK(q != (mqd_t)-1, "mq_open %s: errno %d", name, errno);
  if (argc > 2 && !strcmp(argv[2], "notify")) {
    struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1};
    signal(SIGUSR1, SIG_IGN);
    CHECK(mq_notify(q, &ev) == 0, "mq_notify: errno %d", errno);
    tick_until_go(argv[1]);
    mq_unlink(name);
    printf("PASS\n");
    return 0;
  }
  send(q, "low one", 1);
  send(q, "high", 5);
  send(q, "low two", 1);
  send(q, "middle", 3);
  mqd_t w = mq_open(name, O_WRONLY);
  CHECK(w != (mqd_t)-1, "mq_open write-only: errno %d", errno);
  mqd_t g = mq_open(gone, O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
  CHECK(g != (mqd_t)-1, "mq_open %s: errno %d", gone, errno);
  send(g, "kept", 2);
  CHECK(mq_unlink(gone) == 0, "mq_unlink: errno %d", errno);
  pid_t child = fork();
  CHECK(child >= 0, "fork");
  if (child == 0) {
    wait_go(argv[1]);
    send(q, "from the child", 4);
    _exit(0);
  }
  say_ready();
  wait_go(argv[1]);
  struct mq_attr now;
  CHECK(mq_getattr(q, &now) == 0, "mq_getattr: errno %d", errno);
  CHECK(now.mq_maxmsg == 8 && now.mq_msgsize == 64 && (now.mq_flags & O_NONBLOCK),
        "attributes: maxmsg %ld msgsize %ld flags %#lx", now.mq_maxmsg, now.mq_msgsize,
        now.mq_flags);
  struct stat st;
  CHECK(fstat(q, &st) == 0 && (st.st_mode & 07777) == 0640, "mode %o", st.st_mode & 07777);
  int status;
  CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && !WEXITSTATUS(status),
        "the child failed");
  CHECK(mq_getattr(q, &now) == 0 && now.mq_curmsgs == 5, "%ld messages, not 5", now.mq_curmsgs);
  expect(q, "high", 5, "first");
  expect(q, "from the child", 4, "the child's");
  expect(q, "middle", 3, "third");
  expect(q, "low one", 1, "fourth");
  expect(q, "low two", 1, "fifth");
  char c;
  CHECK(mq_receive(q, &c, 64, NULL) < 0 && errno == EAGAIN, "more messages: errno %d", errno);
  send(w, "through w", 0);
  expect(q, "through w", 0, "the write-only description's");
  mqd_t again = mq_open(name, O_RDONLY);
  CHECK(again != (mqd_t)-1, "mq_open %s again: errno %d", name, errno);
  struct stat mine;
  CHECK(fstat(again, &st) == 0 && fstat(q, &mine) == 0 && st.st_ino == mine.st_ino,
        "the name opens another queue than the restored one");
  expect(g, "kept", 2, "the unlinked queue's");
  CHECK(mq_open(gone, O_RDONLY) == (mqd_t)-1 && errno == ENOENT, "%s exists again", gone);
  mq_unlink(name);
  printf("PASS\n");
  return 0;
}
