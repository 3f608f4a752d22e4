/* Threads that keep working through many snapshots taken while they run: each passes a token
 * around a ring of pipes, sleeps a little and counts under a mutex. No call may fail with EINTR
 * (a snapshot must be invisible), no token or count may be lost, and a restore of the last
 * snapshot must go on just as well. Prints "ready" at once, "PASS" after the go file and
 * ROUNDS rounds more. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "wait_go.h"

#define THREADS 4

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;
static int ring[THREADS][2];
static volatile int stop;
static const char *dir;

static void *worker(void *arg) {
  long me = (long)arg;
  for (long round = 0; !stop; round++) {
    char token;
    ssize_t n = read(ring[me][0], &token, 1);
    CHECK(n == 1, "thread %ld: read gave %zd (%s)", me, n, strerror(errno));
    struct timespec nap = {0, 200000};
    CHECK(nanosleep(&nap, NULL) == 0, "thread %ld: nanosleep: %s", me, strerror(errno));
    pthread_mutex_lock(&lock);
    counter++;
    pthread_mutex_unlock(&lock);
    CHECK(write(ring[(me + 1) % THREADS][1], &token, 1) == 1, "thread %ld: write", me);
  }
  return arg;
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: busy_threads DIR");
  dir = argv[1];
  for (int i = 0; i < THREADS; i++) CHECK(pipe(ring[i]) == 0, "pipe");
  pthread_t t[THREADS];
  for (long i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, worker, (void *)i);
  CHECK(write(ring[0][1], "T", 1) == 1, "the token"); /* one token goes round */
  say_ready();
  wait_go(dir);
  long seen = counter;
  struct timespec more = {0, 300 * 1000 * 1000};
  CHECK(nanosleep(&more, NULL) == 0, "nanosleep");
  CHECK(counter > seen, "the token stopped going round");
  stop = 1;
  /* The one thread that holds the token finishes its round and passes it on; the others wait
   * in read(): give each a token so that all can see `stop`. */
  for (int i = 0; i < THREADS; i++) CHECK(write(ring[i][1], "T", 1) == 1, "wake");
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
  printf("PASS\n");
  return 0;
}
