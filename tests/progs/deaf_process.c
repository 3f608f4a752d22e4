/* A process none of whose threads can take Amber's signal: the main thread and a reader each
 * block every signal with a raw rt_sigprocmask carrying Amber's mark in r9 (unseen by the
 * library and its seccomp layer). The coordinator lets the signal in to the main thread, which
 * leads, and the reader, in a raw read() on a pipe, is seized. The main thread counts in short
 * raw sleeps until DIR/go, then writes to the pipe: the reader gets the bytes at the first try,
 * and both threads still have every signal blocked.
 *
 *   deaf_process DIR */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "deaf_spinner.h"
#include "marked_calls.h"
#include "wait_go.h"

static int data[2];
static volatile long reader_deaf;
static char got[8];

static void *reader(void *arg) {
  block_everything();
  reader_deaf = marked(SYS_gettid, 0, 0, 0, 0);
  long n = marked(SYS_read, data[0], (long)got, sizeof got, 0);
  CHECK(n == 5 && !memcmp(got, "bytes", 5), "the reader's read: %ld", n);
  CHECK(own_mask() == ALL_BLOCKED, "the reader's mask is %llx", (unsigned long long)own_mask());
  return arg;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  CHECK(argc == 2, "usage: deaf_process DIR");
  CHECK(pipe(data) == 0, "pipe: errno %d", errno);
  pthread_t r;
  CHECK(pthread_create(&r, NULL, reader, NULL) == 0, "pthread_create");
  while (!reader_deaf) usleep(1000);
  block_everything(); /* after pthread_create, whose own masking would let glibc's signals through */
  say_ready();
  long count = 0;
  for (; !go_exists(argv[1]); count++) {
    struct timespec ts = {0, 5 * 1000 * 1000};
    marked(SYS_nanosleep, (long)&ts, 0, 0, 0); /* EINTR when the signal is let in: counts anyway */
    CHECK(own_mask() == ALL_BLOCKED, "the main thread's mask is %llx after %ld turns",
          (unsigned long long)own_mask(), count);
  }
  CHECK(write(data[1], "bytes", 5) == 5, "write: errno %d", errno);
  CHECK(pthread_join(r, NULL) == 0, "join");
  printf("turns: %ld\n", count);
  printf("PASS\n");
  return 0;
}
