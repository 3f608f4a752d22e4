/* A process whose main thread has called pthread_exit: its two other threads run on (the main
 * thread is a zombie thread until they end). After the restore both threads still run, with
 * their virtual TIDs and their memory, and the process's pid is the same; it ends when they do.
 * It shares a pipe with a child: what it wrote before and writes after reaches the child. */
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "check.h"
#include "wait_go.h"

static const char *dir;
static pid_t pid;
static atomic_long ticks;
static pid_t tids[2];
static atomic_int started;
static int pipe_out;
static pid_t child;

static void *counter(void *arg) {
  tids[0] = gettid();
  started++;
  for (;;) {
    ticks++;
    usleep(1000);
  }
  return arg;
}

static void *checker(void *arg) {
  tids[1] = gettid();
  started++;
  while (started < 2 || ticks < 20) usleep(1000);
  say_ready();
  wait_go(dir);
  CHECK(getpid() == pid, "getpid is %d, not %d", getpid(), pid);
  CHECK(gettid() == tids[1], "gettid is %d, not %d", gettid(), tids[1]);
  long before = ticks;
  usleep(50 * 1000);
  CHECK(ticks > before, "the counting thread does not run");
  CHECK(kill(pid, 0) == 0, "kill(getpid(), 0)");
  CHECK(write(pipe_out, "world", 5) == 5, "write");
  int status;
  CHECK(waitpid(child, &status, 0) == child, "waitpid");
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child read the pipe wrong: %x", status);
  printf("PASS\n");
  fflush(stdout);
  exit(0);
  return arg;
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: main_thread_exit DIR");
  dir = argv[1];
  pid = getpid();
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  child = fork();
  if (child == 0) {
    close(p[1]);
    char got[11] = "";
    for (int n = 0, r; n < 10; n += r)
      if ((r = read(p[0], got + n, 10 - n)) <= 0) _exit(2);
    _exit(strcmp(got, "helloworld") != 0);
  }
  close(p[0]);
  pipe_out = p[1];
  CHECK(write(pipe_out, "hello", 5) == 5, "write");
  pthread_t a, b;
  CHECK(pthread_create(&a, NULL, counter, NULL) == 0, "pthread_create");
  CHECK(pthread_create(&b, NULL, checker, NULL) == 0, "pthread_create");
  pthread_exit(NULL);
}
