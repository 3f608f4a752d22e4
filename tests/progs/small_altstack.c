/* Threads with an alternate signal stack too small for Amber's agent (6 KiB: the kernel's signal
 * frame takes half, the agent needs more than the rest), busy the whole time: the checkpoint
 * handler starts there (SA_ONSTACK) and moves to the stack it interrupted (agent_stack.c).
 * Canaries below each alternate stack must survive. Says "ready", waits for DIR/go, checks every
 * thread still runs, and says PASS. */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "wait_go.h"

#define THREADS 3
#define ALT 6144
#define CANARY 4096

static volatile long counts[THREADS];
static unsigned char *areas[THREADS + 1];

/* An alternate stack with a canary area just below it, which a handler running past the
 * stack's end would write over. */
static void small_altstack(int i) {
  areas[i] = malloc(CANARY + ALT);
  CHECK(areas[i] != NULL, "malloc");
  memset(areas[i], 0xa5, CANARY);
  stack_t ss = {.ss_sp = areas[i] + CANARY, .ss_size = ALT, .ss_flags = 0};
  CHECK(sigaltstack(&ss, NULL) == 0, "sigaltstack");
}

static void *work(void *arg) {
  long i = (long)arg;
  small_altstack((int)i);
  for (;;) counts[i]++;
  return NULL;
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: small_altstack DIR");
  small_altstack(THREADS);
  pthread_t t;
  for (long i = 0; i < THREADS; i++) CHECK(pthread_create(&t, NULL, work, (void *)i) == 0, "thread");
  say_ready();
  wait_go(argv[1]);
  long before[THREADS];
  for (int i = 0; i < THREADS; i++) before[i] = counts[i];
  /* Each runs again within a few time slices; on a loaded machine, within seconds. */
  for (int i = 0, waited = 0; i < THREADS; i++)
    while (counts[i] == before[i]) {
      CHECK(waited++ < 1000, "thread %d no longer runs", i);
      usleep(10 * 1000);
    }
  for (int i = 0; i <= THREADS; i++)
    for (int b = 0; b < CANARY; b++)
      CHECK(areas[i][b] == 0xa5, "below alternate stack %d, byte %d was written", i, CANARY - b);
  printf("PASS\n");
  return 0;
}
