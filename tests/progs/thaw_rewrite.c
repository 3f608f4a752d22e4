/* A pre-copied snapshot whose file is finished after the thaw (docs/snapshot-protocol.md,
 * "Pre-copy"): the program rewrites all of its memory and forks the moment it runs again,
 * while the helper that shares its memory still writes; the image must be the state at the
 * freeze.
 *
 * thaw_rewrite DIR MIB: MIB of private memory, each page one generation as in cow_rewrite.c
 * (the state, generation and position, in memory). A trickle thread rewrites its first 16
 * pages over and over: pages written since the pre-copy, which the freeze copies. A thaw
 * thread sleeps in ppoll, which the checkpoint signal interrupts (EINTR) as the program is let
 * go: it then rewrites every other page once, forks a child that rewrites its copy once more
 * and waits, and says "thawed". A thread that finds itself restored (its system thread ID
 * changed) stops; the main thread then checks that every page holds the generation its state
 * says ("memory as frozen", or FAIL), and says PASS once DIR/go exists; a restored child checks
 * its copy ("child memory as frozen"). */
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "check.h"
#include "rewrite_words.h"
#include "wait_go.h"

#define WORDS 512 /* per page */
#define TRICKLE 16

struct area {
  uint64_t *mem;
  uint64_t pages, base; /* base: its first page's index in the mapping */
  volatile uint64_t gen, pos; /* pages before pos hold gen, the others gen - 1 */
  volatile int busy;
};

static const char *dir;
static struct area trickle, big;
static int known; /* threads that know their thread ID */

static void fill(struct area *a, uint64_t page, uint64_t gen) {
  uint64_t *p = a->mem + page * WORDS, at = (a->base + page) * WORDS;
  for (uint64_t i = 0; i < WORDS; i++) p[i] = word(gen, at + i);
}

/* One pass over the area, page by page, unless the thread finds itself restored. */
static void rewrite_once(struct area *a, long tid) {
  a->busy = 1;
  while (raw_gettid() == tid) {
    uint64_t gen = a->gen, page = a->pos;
    fill(a, page, gen);
    __asm__ volatile("" ::: "memory"); /* the page before the position that says it is done */
    if (page + 1 == a->pages) {
      a->gen = gen + 1, a->pos = 0;
      break;
    }
    a->pos = page + 1;
  }
  a->busy = 0;
}

static int check(struct area *a, const char *what) {
  for (uint64_t page = 0; page < a->pages; page++) {
    uint64_t gen = page < a->pos ? a->gen : a->gen - 1;
    for (uint64_t i = 0; i < WORDS; i++) {
      uint64_t at = (a->base + page) * WORDS + i;
      if (a->mem[page * WORDS + i] != word(gen, at)) {
        printf("FAIL: %s: page %llu (position %llu, generation %llu) does not hold generation "
               "%llu\n",
               what, (unsigned long long)page, (unsigned long long)a->pos,
               (unsigned long long)a->gen, (unsigned long long)gen);
        fflush(stdout);
        return 0;
      }
    }
  }
  return 1;
}

static void *trickle_thread(void *arg) {
  (void)arg;
  long tid = raw_gettid();
  __atomic_add_fetch(&known, 1, __ATOMIC_SEQ_CST);
  while (raw_gettid() == tid) rewrite_once(&trickle, tid);
  return NULL;
}

/* The child: its copy rewritten once more, then it waits; restored, it checks it. */
static void child(void) {
  long tid = raw_gettid();
  rewrite_once(&big, tid);
  printf("child ready\n");
  fflush(stdout);
  while (raw_gettid() == tid && !go_exists(dir)) usleep(1000);
  if (raw_gettid() != tid && check(&big, "the child's memory")) {
    printf("child memory as frozen\n");
    fflush(stdout);
  }
  while (!go_exists(dir)) usleep(1000);
  _exit(0);
}

static void *thaw_thread(void *arg) {
  (void)arg;
  long tid = raw_gettid();
  __atomic_add_fetch(&known, 1, __ATOMIC_SEQ_CST);
  for (;;) {
    long r = syscall(SYS_ppoll, NULL, 0, NULL, NULL, 8); /* until a signal's handler ran */
    if (raw_gettid() != tid) return NULL;
    if (r >= 0) continue;
    rewrite_once(&big, tid);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) child();
    printf("thawed\n");
    fflush(stdout);
  }
}

int main(int argc, char **argv) {
  CHECK(argc == 3, "usage: thaw_rewrite DIR MIB");
  dir = argv[1];
  uint64_t pages = strtoul(argv[2], NULL, 10) * 256;
  CHECK(pages > 2 * TRICKLE, "too little memory");
  uint64_t *mem = mmap(NULL, pages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                       -1, 0);
  CHECK(mem != MAP_FAILED, "mmap");
  trickle = (struct area){mem, TRICKLE, 0, 2, 0, 0};
  big = (struct area){mem + TRICKLE * WORDS, pages - TRICKLE, TRICKLE, 2, 0, 0};
  for (uint64_t p = 0; p < trickle.pages; p++) fill(&trickle, p, 1);
  for (uint64_t p = 0; p < big.pages; p++) fill(&big, p, 1);
  long tid = raw_gettid();
  pthread_t t[2];
  CHECK(pthread_create(&t[0], NULL, trickle_thread, NULL) == 0, "pthread_create");
  CHECK(pthread_create(&t[1], NULL, thaw_thread, NULL) == 0, "pthread_create");
  while (__atomic_load_n(&known, __ATOMIC_SEQ_CST) < 2) usleep(1000);
  say_ready();
  while (raw_gettid() == tid) usleep(1000);
  /* Restored: each writer stops within a page. */
  for (int i = 0; i < 5000 && (trickle.busy || big.busy); i++) usleep(1000);
  CHECK(!trickle.busy && !big.busy, "a writer did not stop after the restore");
  if (check(&trickle, "the pages written since the pre-copy") && check(&big, "the memory")) {
    printf("memory as frozen (generation %llu, position %llu)\n", (unsigned long long)big.gen,
           (unsigned long long)big.pos);
    fflush(stdout);
  }
  while (!go_exists(dir)) usleep(1000);
  while (waitpid(-1, NULL, WNOHANG) > 0) {}
  printf("PASS\n");
  fflush(stdout);
  return 0;
}
