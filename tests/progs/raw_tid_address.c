/* A thread that moves its clear_child_tid word with set_tid_address (raw from the program's own
 * code, or through syscall()) is told its virtual tid, and keeps that word across a snapshot and
 * restore: the kernel clears it and wakes its waiters when the thread ends, also after the
 * restore. One of the threads blocks every signal, so a snapshot seizes it from outside.
 * Usage: raw_tid_address <dir> */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "raw_call.h"
#include "wait_go.h"

enum { RAW, SYSCALL, DEAF, NTHREADS };
static const char *names[] = {"raw", "syscall()", "raw, every signal blocked"};
static volatile int32_t words[NTHREADS + 1]; /* the last: a thread that ends before the snapshot */
static int pipes[NTHREADS][2];
static volatile int set[NTHREADS + 1];

static void *word_of(void) {
  void *addr = NULL;
  CHECK(prctl(PR_GET_TID_ADDRESS, &addr) == 0, "PR_GET_TID_ADDRESS");
  return addr;
}

struct job {
  int kind, slot;
};

static void *thread(void *arg) {
  struct job *j = arg;
  int kind = j->kind, slot = j->slot;
  volatile int32_t *word = &words[slot];
  if (kind == DEAF) {
    uint64_t all = ~0ULL;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, NULL, 8);
  }
  *word = 1;
  long r = kind == SYSCALL ? syscall(SYS_set_tid_address, word)
                           : raw_call(SYS_set_tid_address, (long)word, 0, 0, 0);
  CHECK(r == gettid(), "%s set_tid_address returned %ld, not the thread's tid %d", names[kind], r,
        gettid());
  CHECK(word_of() == word, "%s set_tid_address: the kernel's word is %p, not %p", names[kind],
        word_of(), (void *)word);
  set[slot] = 1;
  if (slot < NTHREADS) { /* lives across the snapshots */
    char c;
    long n;
    do n = read(pipes[slot][0], &c, 1);
    while (n < 0 && errno == EINTR);
    CHECK(n == 1, "%s: read", names[kind]);
    CHECK(word_of() == word, "after: %s set_tid_address: the kernel's word is %p, not %p",
          names[kind], word_of(), (void *)word);
  }
  raw_call(SYS_exit, 0, 0, 0, 0); /* glibc's exit would wait on its own word, never cleared */
  return NULL;
}

/* The kernel clears the word and wakes its waiter when the thread ends. */
static void wait_cleared(int slot, const char *when) {
  struct timespec limit = {0, 100 * 1000 * 1000};
  for (int i = 0; i < 100 && words[slot]; i++)
    syscall(SYS_futex, &words[slot], FUTEX_WAIT, words[slot], &limit, NULL, 0);
  CHECK(words[slot] == 0, "%s: the word of the %s thread was never cleared: %d", when,
        slot < NTHREADS ? names[slot] : names[RAW], words[slot]);
}

static void start(struct job *j) {
  pthread_t t;
  CHECK(pthread_create(&t, NULL, thread, j) == 0, "pthread_create");
  CHECK(pthread_detach(t) == 0, "pthread_detach");
  while (!set[j->slot]) usleep(1000);
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: raw_tid_address DIR");
  setvbuf(stdout, NULL, _IOLBF, 0);
  static struct job jobs[NTHREADS + 1] = {{RAW, 0}, {SYSCALL, 1}, {DEAF, 2}, {RAW, NTHREADS}};
  start(&jobs[NTHREADS]);
  wait_cleared(NTHREADS, "before");
  for (int k = 0; k < NTHREADS; k++) {
    CHECK(pipe(pipes[k]) == 0, "pipe");
    start(&jobs[k]);
  }
  say_ready();
  wait_go(argv[1]);
  for (int k = 0; k < NTHREADS; k++) {
    CHECK(write(pipes[k][1], "x", 1) == 1, "write");
    wait_cleared(k, "after");
  }
  printf("PASS\n");
  return 0;
}
