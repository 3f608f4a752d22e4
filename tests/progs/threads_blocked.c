/* Four threads contend on a mutex and a condition variable while three others are blocked in
 * read() on a pipe, in nanosleep() and in a futex wait (pthread_cond_wait) when the snapshot
 * lands. After the restore, each must carry on correctly: the read gets its byte, the sleep
 * ends on time without EINTR, the waiter wakes, and no increment is lost. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>

#include "check.h"
#include "wait_go.h"

#define WORKERS 4
#define ROUNDS 300000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static long counter;
static int released;
static int pipefd[2];
static char got_byte;
static int sleep_result = -1, sleep_errno;
static int waiter_woke;

static void *worker(void *arg) {
  for (int i = 0; i < ROUNDS; i++) {
    pthread_mutex_lock(&lock);
    counter++;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
  }
  return arg;
}

static void *reader(void *arg) {
  CHECK(read(pipefd[0], &got_byte, 1) == 1, "read failed: %s", strerror(errno));
  return arg;
}

static void *sleeper(void *arg) {
  struct timespec req = {3, 0};
  sleep_result = nanosleep(&req, NULL);
  sleep_errno = errno;
  return arg;
}

static void *waiter(void *arg) {
  pthread_mutex_lock(&lock);
  while (!released) pthread_cond_wait(&changed, &lock);
  waiter_woke = 1;
  pthread_mutex_unlock(&lock);
  return arg;
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: threads_blocked DIR");
  CHECK(pipe(pipefd) == 0, "pipe");
  pid_t pid_before = getpid();
  pthread_t t[WORKERS + 3];
  for (int i = 0; i < WORKERS; i++) pthread_create(&t[i], NULL, worker, NULL);
  pthread_create(&t[WORKERS], NULL, reader, NULL);
  pthread_create(&t[WORKERS + 1], NULL, sleeper, NULL);
  pthread_create(&t[WORKERS + 2], NULL, waiter, NULL);
  struct timespec settle = {0, 50 * 1000 * 1000};
  nanosleep(&settle, NULL);
  say_ready();
  wait_go(argv[1]);

  CHECK(getpid() == pid_before, "getpid changed from %d to %d", pid_before, getpid());
  CHECK(write(pipefd[1], "x", 1) == 1, "write");
  pthread_mutex_lock(&lock);
  released = 1;
  pthread_cond_broadcast(&changed);
  pthread_mutex_unlock(&lock);
  for (int i = 0; i < WORKERS + 3; i++) pthread_join(t[i], NULL);
  CHECK(got_byte == 'x', "the reader got %d", got_byte);
  CHECK(sleep_result == 0, "nanosleep returned %d (%s)", sleep_result, strerror(sleep_errno));
  CHECK(waiter_woke, "the waiter did not wake");
  CHECK(counter == (long)WORKERS * ROUNDS, "counter is %ld, expected %ld", counter,
        (long)WORKERS * ROUNDS);
  printf("PASS\n");
  return 0;
}
