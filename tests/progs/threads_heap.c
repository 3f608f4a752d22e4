/* Eight threads that sleep in short steps and 128 MiB of pseudo-random data (made before the
 * threads, so their stacks and TLS lie below it and are saved first): while the agent writes the
 * data, the kernel rewrites the threads' rseq areas whenever one of them runs on another CPU. After
 * the restore it checks every word of the data and that every thread still runs. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "wait_go.h"

#define THREADS 8
static volatile uint64_t ticks[THREADS];

static void *sleeper(void *arg) {
  volatile uint64_t *mine = arg;
  for (;;) {
    struct timespec ts = {0, 2 * 1000 * 1000};
    nanosleep(&ts, NULL);
    ++*mine;
  }
  return NULL;
}

static uint64_t next(uint64_t *s) {
  *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
  return *s;
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: threads_heap DIR");
  size_t words = (128u << 20) / 8;
  uint64_t *data = malloc(words * 8), seed = 0x2545f4914f6cdd1dULL;
  CHECK(data, "malloc");
  for (size_t i = 0; i < words; i++) data[i] = next(&seed);
  pthread_t t[THREADS];
  for (int i = 0; i < THREADS; i++)
    CHECK(pthread_create(&t[i], NULL, sleeper, (void *)&ticks[i]) == 0, "pthread_create");
  say_ready();
  wait_go(argv[1]);
  seed = 0x2545f4914f6cdd1dULL;
  for (size_t i = 0; i < words; i++)
    CHECK(data[i] == next(&seed), "word %zu differs", i);
  uint64_t before[THREADS];
  for (int i = 0; i < THREADS; i++) before[i] = ticks[i];
  struct timespec ts = {0, 100 * 1000 * 1000};
  nanosleep(&ts, NULL);
  for (int i = 0; i < THREADS; i++) CHECK(ticks[i] > before[i], "thread %d stopped", i);
  printf("PASS\n");
  fflush(stdout);
  return 0;
}
