/* Threads that never run a signal handler: each blocks every signal with a raw rt_sigprocmask
 * that carries Amber's own mark in r9, so that neither the library's wrappers nor its seccomp
 * layer sees it (nothing but ptrace can stop them). The reader then waits in a raw read() on a
 * pipe, the poller in a raw poll() without a timeout (a call the kernel restarts only when no
 * handler runs: a handler would make it fail with EINTR), the spinner spins and looks at its own
 * mask on every turn, the vector thread spins with a pattern in an AVX register (ymm15, upper
 * half too: the XSAVE state) and checks it on every turn; a sixth thread counts. The reader has
 * a signal pending (SIGUSR1, sent to it alone), the poller an alternate signal stack. After each
 * restore the main thread writes to both pipes: the reader gets the bytes and the poller its
 * event, both at the first try, with their masks whole, the reader's signal still pending and
 * the poller's alternate stack in place, and the spinners and the counter go on.
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

#include "check.h"
#include "deaf_spinner.h"
#include "marked_calls.h"
#include "wait_go.h"


static int data[2], event[2];
static volatile long count, deaf, reader_tid, poller_tid, vturns;
static char altstack[65536];
static char got[8];

static void deafen(void) {
  block_everything();
  __atomic_add_fetch(&deaf, 1, __ATOMIC_SEQ_CST);
}

static void *reader(void *arg) {
  reader_tid = marked(SYS_gettid, 0, 0, 0, 0);
  deafen();
  long n = marked(SYS_read, data[0], (long)got, sizeof got, 0);
  CHECK(n == 5 && !memcmp(got, "bytes", 5), "the reader's read: %ld", n);
  CHECK(own_mask() == ALL_BLOCKED, "the reader's mask is %llx", (unsigned long long)own_mask());
  uint64_t pending = 0;
  marked(SYS_rt_sigpending, (long)&pending, 8, 0, 0);
  CHECK(pending == 1ULL << (SIGUSR1 - 1), "the reader's pending signals are %llx",
        (unsigned long long)pending);
  return arg;
}

static void *poller(void *arg) {
  poller_tid = marked(SYS_gettid, 0, 0, 0, 0);
  stack_t ss = {altstack, 0, sizeof altstack};
  CHECK(marked(SYS_sigaltstack, (long)&ss, 0, 0, 0) == 0, "sigaltstack");
  deafen();
  struct pollfd p = {event[0], POLLIN, 0};
  long n = marked(SYS_poll, (long)&p, 1, -1, 0);
  CHECK(n == 1 && (p.revents & POLLIN), "the poller's poll: %ld", n);
  CHECK(own_mask() == ALL_BLOCKED, "the poller's mask is %llx", (unsigned long long)own_mask());
  stack_t now;
  CHECK(marked(SYS_sigaltstack, 0, (long)&now, 0, 0) == 0, "sigaltstack");
  CHECK(now.ss_sp == altstack && now.ss_size == sizeof altstack && now.ss_flags == 0,
        "the poller's alternate stack is %p, %zu bytes, flags %d", now.ss_sp, now.ss_size,
        now.ss_flags);
  return arg;
}

static void *spinner(void *arg) {
  deafen();
  spin_deaf(own_mask);
  return arg;
}

/* Returns only if ymm15 ever loses its pattern. */
static void *vector(void *arg) {
  static const uint64_t pattern[4] __attribute__((aligned(32))) = {
      0x0123456789abcdefULL, 0xfedcba9876543210ULL, 0x1122334455667788ULL, 0x99aabbccddeeff00ULL};
  deafen();
  __asm__ volatile("vmovdqa (%0), %%ymm15\n"
                   "1: vpcmpeqq (%0), %%ymm15, %%ymm14\n"
                   "vpmovmskb %%ymm14, %%eax\n"
                   "cmpl $-1, %%eax\n"
                   "jne 2f\n"
                   "lock incq (%1)\n"
                   "jmp 1b\n"
                   "2:\n"
                   :
                   : "r"(pattern), "r"(&vturns)
                   : "rax", "xmm14", "xmm15", "memory", "cc");
  CHECK(0, "the vector thread's ymm15 lost its pattern after %ld turns", vturns);
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
  pthread_t r, p, s, v, c;
  int avx2 = !!__builtin_cpu_supports("avx2");
  CHECK(pthread_create(&r, NULL, reader, NULL) == 0, "pthread_create");
  CHECK(pthread_create(&p, NULL, poller, NULL) == 0, "pthread_create");
  CHECK(pthread_create(&s, NULL, spinner, NULL) == 0, "pthread_create");
  if (avx2) CHECK(pthread_create(&v, NULL, vector, NULL) == 0, "pthread_create");
  CHECK(pthread_create(&c, NULL, counter, NULL) == 0, "pthread_create");
  while (deaf < 3 + avx2 || turns < 1000 || (avx2 && vturns < 1000) || count < 10) usleep(1000);
  CHECK(marked(SYS_tgkill, marked(SYS_getpid, 0, 0, 0, 0), reader_tid, SIGUSR1, 0) == 0, "tgkill");
  while (!in_call(reader_tid, SYS_read) || !in_call(poller_tid, SYS_poll)) usleep(1000);
  say_ready();
  wait_go(argv[1]);
  long counted = count;
  CHECK(write(data[1], "bytes", 5) == 5, "write: errno %d", errno);
  CHECK(write(event[1], "e", 1) == 1, "write: errno %d", errno);
  CHECK(pthread_join(r, NULL) == 0 && pthread_join(p, NULL) == 0, "join");
  goes_on(&turns, "spinner");
  if (avx2) goes_on(&vturns, "vector thread");
  goes_on(&count, "counter");
  printf("counter: %ld at go, %ld now\n", counted, count);
  printf("PASS\n");
  return 0;
}
