/* A child that answers one-letter questions about itself over a pipe, for programs that act on
 * another process and check with it what happened: start_child forks it (in a process group
 * of its own), runs `setup` in it, then answers each question with `answer`; it exits when the
 * parent closes the pipe (stop_child). */
#ifndef AMBER_TEST_PID_CHILD_H
#define AMBER_TEST_PID_CHILD_H

#include <errno.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static int child_cmd_w = -1, child_reply_r = -1;
static pid_t child_pid;

static inline pid_t start_child(void (*setup)(void), long (*answer)(char)) {
  int cmd[2], reply[2];
  CHECK(pipe(cmd) == 0 && pipe(reply) == 0, "pipe");
  child_pid = fork();
  CHECK(child_pid >= 0, "fork");
  if (child_pid == 0) {
    close(cmd[1]);
    close(reply[0]);
    setpgid(0, 0);
    setup();
    for (;;) {
      char c;
      ssize_t n = read(cmd[0], &c, 1);
      if (n == 0) exit(0);
      if (n < 0) continue;
      long v = answer(c);
      if (write(reply[1], &v, sizeof v) != sizeof v) exit(1);
    }
  }
  setpgid(child_pid, child_pid);
  close(cmd[0]);
  close(reply[1]);
  child_cmd_w = cmd[1];
  child_reply_r = reply[0];
  return child_pid;
}

static inline long ask(char c) {
  long v;
  CHECK(write(child_cmd_w, &c, 1) == 1, "ask %c", c);
  size_t got = 0;
  while (got < sizeof v) {
    ssize_t r = read(child_reply_r, (char *)&v + got, sizeof v - got);
    CHECK(r > 0 || (r < 0 && errno == EINTR), "the child did not answer %c", c);
    if (r > 0) got += r;
  }
  return v;
}

/* Waits (up to 3 s) for the child's answer to c to become `want`. */
static inline int child_says(char c, long want) {
  for (int i = 0; i < 300; i++) {
    if (ask(c) == want) return 1;
    usleep(10000);
  }
  return 0;
}

static inline void stop_child(void) {
  close(child_cmd_w);
  int status;
  CHECK(waitpid(child_pid, &status, 0) == child_pid && WIFEXITED(status) &&
            WEXITSTATUS(status) == 0,
        "the child's end");
}

#endif
