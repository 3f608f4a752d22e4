/* Directory notifications (fcntl F_NOTIFY): a multishot one on DIR/watched, its signal chosen
 * with F_SETSIG; and one on DIR/other whose descriptor was closed, the directory then opened
 * again at the same number without one. The kernel shows neither anywhere: a restore lost the
 * first without a word. Says "ready", waits for DIR/go, then a file made in each directory
 * must signal for the first and not the second: PASS, or FAIL and exit 1.
 *
 *   dnotify_dir DIR */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "wait_go.h"

static volatile sig_atomic_t watched_events, stray_events;
static int watched;

static void on_event(int sig, siginfo_t *info, void *uc) {
  (void)sig, (void)uc;
  if (info->si_fd == watched) watched_events++;
  else stray_events++;
}

static void on_stray(int sig) { (void)sig, stray_events++; }

static void make_file(const char *dir, const char *sub, const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
  int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  CHECK(fd >= 0, "cannot make %s: %m", path);
  close(fd);
}

/* Waits up to a second for `count` to pass `from`; whether it did. */
static int raised(volatile sig_atomic_t *count, int from) {
  for (int i = 0; i < 100 && *count == from; i++) {
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, 0);
  }
  return *count != from;
}

static int open_dir(const char *dir, const char *sub) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, sub);
  mkdir(path, 0700);
  int fd = open(path, O_RDONLY | O_DIRECTORY);
  CHECK(fd >= 0, "cannot open %s: %m", path);
  return fd;
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: dnotify_dir DIR");
  const char *dir = argv[1];
  struct sigaction sa = {0};
  sa.sa_sigaction = on_event;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigaction(SIGRTMIN, &sa, 0);
  signal(SIGIO, on_stray);

  watched = open_dir(dir, "watched");
  CHECK(fcntl(watched, F_SETSIG, SIGRTMIN) == 0, "F_SETSIG: %m");
  CHECK(fcntl(watched, F_NOTIFY, DN_CREATE | DN_MULTISHOT) == 0, "F_NOTIFY: %m");
  int other = open_dir(dir, "other");
  CHECK(fcntl(other, F_NOTIFY, DN_CREATE | DN_MULTISHOT) == 0, "F_NOTIFY: %m");
  close(other); /* which drops its notification */
  int again = open_dir(dir, "other");
  CHECK(again == other, "the directory opened again at %d, not %d", again, other);

  make_file(dir, "watched", "before");
  CHECK(raised(&watched_events, 0), "no signal for a file made in the watched directory");
  say_ready();
  wait_go(dir);
  int seen = watched_events;
  make_file(dir, "watched", "after");
  CHECK(raised(&watched_events, seen), "no signal for a file made in the watched directory");
  make_file(dir, "other", "after");
  CHECK(!raised(&stray_events, 0), "a signal for the directory whose notification was dropped");
  printf("PASS\n");
  return 0;
}
