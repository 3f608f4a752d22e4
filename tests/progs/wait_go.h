/* Test programs say "ready" once their state is set up, then wait for the test to create
 * <dir>/go (after it has snapshotted, killed and restored them), so the checks that follow run
 * in the restored process. */
#ifndef AMBER_TEST_WAIT_GO_H
#define AMBER_TEST_WAIT_GO_H

#include <stdio.h>
#include <time.h>
#include <unistd.h>

static inline void say_ready(void) {
  printf("ready\n");
  fflush(stdout);
}

/* Whether the test has made <dir>/<name> yet. */
static inline int dir_has(const char *dir, const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return access(path, F_OK) == 0;
}

/* Whether <dir>/go exists yet (for programs that keep working until it does). */
static inline int go_exists(const char *dir) { return dir_has(dir, "go"); }

/* For a program whose snapshot must be refused: "ready", then "tick N" every 20 ms (so that a
 * test sees it run on) until <dir>/go. */
static inline void tick_until_go(const char *dir) {
  say_ready();
  for (long tick = 0; !go_exists(dir); tick++) {
    printf("tick %ld\n", tick);
    fflush(stdout);
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}

static inline void wait_go(const char *dir) {
  while (!go_exists(dir)) {
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}

#endif
