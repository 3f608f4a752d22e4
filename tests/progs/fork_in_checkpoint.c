/* A thread that forks all the time beside a main thread that does nothing: with
 * AMBER_TEST_FORK_DELAY_MS set, each fork waits with the checkpoint signal held off before it
 * makes its child, so a snapshot's checkpoint begins in the main thread while the forker is about
 * to fork, and the child is made from memory where the parent's checkpoint is under way. Each
 * child lives a second (the next snapshots include it), then exits 7; the parent reaps them. It
 * runs until <dir>/go exists, then says PASS once every child it reaped had exited 7. */
#include <errno.h>
#include <pthread.h>
#include <sys/wait.h>
#include <time.h>

#include "check.h"
#include "wait_go.h"

static const char *dir;
static volatile int bad_children;

static void reap(int options) {
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, options)) > 0)
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 7) bad_children++;
}

static void *forker(void *arg) {
  (void)arg;
  while (!go_exists(dir)) {
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: %d", errno);
    if (pid == 0) {
      for (int i = 0; i < 100; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
      }
      _exit(7);
    }
    reap(WNOHANG);
  }
  reap(0);
  return NULL;
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: fork_in_checkpoint DIR");
  dir = argv[1];
  pthread_t t;
  CHECK(pthread_create(&t, NULL, forker, NULL) == 0, "pthread_create");
  say_ready();
  wait_go(dir);
  pthread_join(t, NULL);
  CHECK(bad_children == 0, "%d children did not exit 7", bad_children);
  printf("PASS\n");
  fflush(stdout);
  return 0;
}
