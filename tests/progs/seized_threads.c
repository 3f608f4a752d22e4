/* Threads that never run a signal handler: each blocks every signal with a raw rt_sigprocmask
 * that carries Amber's own mark in r9, so that neither the library's wrappers nor its seccomp
 * layer sees it (nothing but ptrace can stop them). The reader then waits in a raw read() on a
 * pipe, the poller in a raw poll() without a timeout (a call the kernel restarts only when no
 * handler runs: a handler would make it fail with EINTR), the spinner spins and looks at its own
 * mask on every turn; a fourth thread counts. After each restore the main thread writes to
 * both pipes: the reader gets the bytes and the poller its event, both at the first try, with
 * their masks whole, and the spinner and the counter go on.
 *
 *   seized_threads DIR */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../../csrc/common/seccomp_calls.h"
#include "check.h"
#include "deaf_spinner.h"
#include "wait_go.h"


static int data[2], event[2];
static volatile long count, deaf, reader_tid, poller_tid;
static char got[8];

/* A system call with Amber's mark in r9: its seccomp layer lets it through unseen. */
static long marked(long nr, long a, long b, long c, long d) {
  long ret;
  register long r10 __asm__("r10") = d;
  register long r9 __asm__("r9") = AMBER_SECCOMP_MAGIC;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}

static uint64_t own_mask(void) {
  uint64_t mask = 0;
  marked(SYS_rt_sigprocmask, SIG_BLOCK, 0, (long)&mask, 8);
  return mask;
}

static void deafen(void) {
  uint64_t all = ~0ULL;
  CHECK(marked(SYS_rt_sigprocmask, SIG_SETMASK, (long)&all, 0, 8) == 0, "rt_sigprocmask");
  __atomic_add_fetch(&deaf, 1, __ATOMIC_SEQ_CST);
}

static void *reader(void *arg) {
  reader_tid = marked(SYS_gettid, 0, 0, 0, 0);
  deafen();
  long n = marked(SYS_read, data[0], (long)got, sizeof got, 0);
  CHECK(n == 5 && !memcmp(got, "bytes", 5), "the reader's read: %ld", n);
  CHECK(own_mask() == ALL_BLOCKED, "the reader's mask is %llx", (unsigned long long)own_mask());
  return arg;
}

static void *poller(void *arg) {
  poller_tid = marked(SYS_gettid, 0, 0, 0, 0);
  deafen();
  struct pollfd p = {event[0], POLLIN, 0};
  long n = marked(SYS_poll, (long)&p, 1, -1, 0);
  CHECK(n == 1 && (p.revents & POLLIN), "the poller's poll: %ld", n);
  CHECK(own_mask() == ALL_BLOCKED, "the poller's mask is %llx", (unsigned long long)own_mask());
  return arg;
}

static void *spinner(void *arg) {
  deafen();
  spin_deaf(own_mask);
  return arg;
}

static void *counter(void *arg) {
  for (;;) {
    count++;
    usleep(1000);
  }
  return arg;
}

/* Whether the thread (system tid) waits in system call `nr` (/proc's syscall file). */
static int in_call(long tid, int nr) {
  char path[64], line[64] = "";
  snprintf(path, sizeof path, "/proc/self/task/%ld/syscall", tid);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  int ok = fgets(line, sizeof line, f) && atoi(line) == nr;
  fclose(f);
  return ok;
}

static void goes_on(volatile long *what, const char *name) {
  long before = *what;
  for (int i = 0; i < 2000 && *what == before; i++) usleep(1000);
  CHECK(*what > before, "the %s stopped at %ld", name, before);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  CHECK(argc == 2, "usage: seized_threads DIR");
  CHECK(pipe(data) == 0 && pipe(event) == 0, "pipe: errno %d", errno);
  pthread_t r, p, s, c;
  CHECK(pthread_create(&r, NULL, reader, NULL) == 0, "pthread_create");
  CHECK(pthread_create(&p, NULL, poller, NULL) == 0, "pthread_create");
  CHECK(pthread_create(&s, NULL, spinner, NULL) == 0, "pthread_create");
  CHECK(pthread_create(&c, NULL, counter, NULL) == 0, "pthread_create");
  while (deaf < 3 || turns < 1000 || count < 10) usleep(1000);
  while (!in_call(reader_tid, SYS_read) || !in_call(poller_tid, SYS_poll)) usleep(1000);
  say_ready();
  wait_go(argv[1]);
  long counted = count;
  CHECK(write(data[1], "bytes", 5) == 5, "write: errno %d", errno);
  CHECK(write(event[1], "e", 1) == 1, "write: errno %d", errno);
  CHECK(pthread_join(r, NULL) == 0 && pthread_join(p, NULL) == 0, "join");
  goes_on(&turns, "spinner");
  goes_on(&count, "counter");
  printf("counter: %ld at go, %ld now\n", counted, count);
  printf("PASS\n");
  return 0;
}
