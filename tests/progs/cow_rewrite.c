/* Rewrites all of its memory as fast as it can, for copy-on-write snapshots: the image must be
 * the state at the freeze, not pages from the write-out after it.
 *
 * cow_rewrite DIR MIB THREADS CHILDREN: the process (and each of CHILDREN children it forks)
 * runs THREADS workers, each rewriting its own MIB/THREADS slice of private memory page by
 * page, and the first process one more worker on 4 MiB of shared memory (MAP_SHARED, mapped
 * by the children too); the first child two more, on 1 MiB made MADV_WIPEONFORK and 1 MiB
 * made MADV_DONTFORK (which a fork's copy does not hold). A word holds f(generation, index);
 * each worker keeps in memory its
 * generation and the page it is at, so the whole state at any instant is known: pages before
 * `pos` are of generation `gen`, the others of `gen - 1`. A worker notices it was restored by
 * its system thread ID (a raw gettid past Amber's seccomp layer), stops after the page
 * it was writing, checks that invariant on every word, and prints its state and a checksum of
 * its memory ("sum" lines: two restores of one image print the same ones), then runs on, or,
 * once DIR/go exists, ends; the first process says PASS once every worker's memory held. The
 * first worker says every other generation it begins ("progress N"), so a test sees it ran on. */
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "check.h"
#include "rewrite_words.h"
#include "wait_go.h"

#define WORDS_PER_PAGE 512

struct worker {
  uint64_t *mem;
  uint64_t pages;
  volatile uint64_t gen, pos; /* the state, in memory: the image holds it */
  int proc, index;
  const char *kind;
  char bad[160];
};

static const char *dir;

static void fill_page(struct worker *w, uint64_t page, uint64_t gen) {
  uint64_t *p = w->mem + page * WORDS_PER_PAGE;
  for (uint64_t i = 0; i < WORDS_PER_PAGE; i++) p[i] = word(gen, page * WORDS_PER_PAGE + i);
}

/* Rewrites until the thread is restored (its system thread ID changed). */
static int running; /* this process's workers that know their thread ID */

static void rewrite(struct worker *w) {
  long tid = raw_gettid();
  __atomic_add_fetch(&running, 1, __ATOMIC_SEQ_CST);
  while (raw_gettid() == tid) {
    uint64_t gen = w->gen, page = w->pos;
    fill_page(w, page, gen);
    __asm__ volatile("" ::: "memory"); /* the page before the position that says it is done */
    if (page + 1 == w->pages) {
      w->gen = gen + 1, w->pos = 0;
      if (w->proc == 0 && w->index == 0 && gen % 2 == 1) {
        printf("progress %llu\n", (unsigned long long)gen + 1);
        fflush(stdout);
      }
    } else {
      w->pos = page + 1;
    }
  }
}

/* The memory must be exactly some state the worker was in; its checksum. */
static uint64_t check(struct worker *w) {
  uint64_t sum = 0;
  for (uint64_t page = 0; page < w->pages && !w->bad[0]; page++) {
    uint64_t gen = page < w->pos ? w->gen : w->gen - 1;
    for (uint64_t i = 0; i < WORDS_PER_PAGE; i++) {
      uint64_t at = page * WORDS_PER_PAGE + i, v = w->mem[at];
      if (v != word(gen, at)) {
        snprintf(w->bad, sizeof w->bad,
                 "process %d worker %d (%s): page %llu (position %llu, generation %llu) does "
                 "not hold generation %llu",
                 w->proc, w->index, w->kind, (unsigned long long)page,
                 (unsigned long long)w->pos, (unsigned long long)w->gen,
                 (unsigned long long)gen);
        printf("FAIL: %s\n", w->bad);
        break;
      }
      sum = (sum ^ v) * 0x100000001b3ULL;
    }
  }
  return sum;
}

static void *work(void *arg) {
  struct worker *w = arg;
  do {
    rewrite(w);
    uint64_t sum = check(w);
    printf("sum p%d w%d %s gen %llu pos %llu sum %016llx\n", w->proc, w->index, w->kind,
           (unsigned long long)w->gen, (unsigned long long)w->pos, (unsigned long long)sum);
    fflush(stdout);
  } while (!w->bad[0] && !go_exists(dir));
  return NULL;
}

static struct worker *start(struct worker *w, uint64_t *mem, uint64_t pages, int proc, int index,
                            const char *kind, pthread_t *thread) {
  *w = (struct worker){.mem = mem, .pages = pages, .gen = 2, .pos = 0, .proc = proc,
                       .index = index, .kind = kind};
  for (uint64_t page = 0; page < pages; page++) fill_page(w, page, 1);
  CHECK(pthread_create(thread, NULL, work, w) == 0, "pthread_create");
  return w;
}

static volatile int *started; /* shared: how many processes run their workers */

/* One process's workers; returns once they all stopped, 0 if every check held. */
static int run(int proc, uint64_t mib, int threads, uint64_t *shared, uint64_t shared_pages) {
  uint64_t pages = mib * 256 / threads;
  uint64_t *mem = mmap(NULL, pages * threads * 4096, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(mem != MAP_FAILED, "mmap");
  struct worker w[20];
  pthread_t t[20];
  int n = 0;
  for (; n < threads; n++)
    start(&w[n], mem + n * pages * WORDS_PER_PAGE, pages, proc, n, "private", &t[n]);
  if (shared) start(&w[n], shared, shared_pages, proc, n, "shared", &t[n]), n++;
  if (proc == 1) { /* what a fork does not copy as it is: saved while frozen */
    static const struct { int advice; const char *kind; } special[] = {
        {MADV_WIPEONFORK, "wipeonfork"}, {MADV_DONTFORK, "dontfork"}};
    for (int k = 0; k < 2; k++, n++) {
      uint64_t *m = mmap(NULL, 256 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                         -1, 0);
      CHECK(m != MAP_FAILED && madvise(m, 256 * 4096, special[k].advice) == 0, "madvise");
      start(&w[n], m, 256, proc, n, special[k].kind, &t[n]);
    }
  }
  /* Started only once each worker knows its thread ID, or a worker that a snapshot caught
   * before it did would take a restored one for its own. */
  while (__atomic_load_n(&running, __ATOMIC_SEQ_CST) < n) usleep(1000);
  __atomic_add_fetch(started, 1, __ATOMIC_SEQ_CST);
  int bad = 0;
  for (int i = 0; i < n; i++) {
    pthread_join(t[i], NULL);
    bad |= w[i].bad[0] != 0;
  }
  return bad;
}

/* "ready" once every process's workers run. */
static void *say_ready_when_started(void *processes) {
  while (__atomic_load_n(started, __ATOMIC_SEQ_CST) < (int)(long)processes) usleep(1000);
  say_ready();
  return NULL;
}

int main(int argc, char **argv) {
  CHECK(argc == 5, "usage: cow_rewrite DIR MIB THREADS CHILDREN");
  uint64_t mib = strtoul(argv[2], NULL, 10);
  int threads = atoi(argv[3]), children = atoi(argv[4]);
  dir = argv[1];
  CHECK(threads >= 1 && threads <= 16 && children >= 0 && children <= 8, "bad arguments");
  uint64_t shared_pages = 1024; /* 4 MiB */
  uint64_t *shared = mmap(NULL, shared_pages * 4096, PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(shared != MAP_FAILED, "mmap shared");
  started = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(started != MAP_FAILED, "mmap shared counter");
  pid_t pids[8];
  for (int c = 0; c < children; c++) {
    pids[c] = fork();
    CHECK(pids[c] >= 0, "fork");
    if (pids[c] == 0) return run(c + 1, mib, threads, NULL, 0);
  }
  pthread_t waiter;
  CHECK(pthread_create(&waiter, NULL, say_ready_when_started, (void *)(long)(children + 1)) == 0,
        "pthread_create");
  int bad = run(0, mib, threads, shared, shared_pages);
  pthread_join(waiter, NULL);
  for (int c = 0; c < children; c++) {
    int status;
    CHECK(waitpid(pids[c], &status, 0) == pids[c], "waitpid %d", c);
    bad |= !WIFEXITED(status) || WEXITSTATUS(status);
  }
  CHECK(!bad, "a worker's memory was not a state it had been in");
  printf("PASS\n");
  return 0;
}
