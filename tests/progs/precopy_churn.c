/* Changes its memory map and forks while a pre-copy copies its pages (docs/snapshot-protocol.md,
 * "Pre-copy"): the image must still be exactly the state at the freeze.
 *
 * precopy_churn DIR MIB: a rewriter thread rewrites MIB of private memory page by page as fast
 * as it can (its generation and position in memory, as in cow_rewrite.c, so every instant's
 * state is known); a churner thread keeps 16 slots of mappings, each holding f(slot, generation,
 * page) in every page, and over and over maps a slot anew (mmap), unmaps one (munmap), moves or
 * grows one (mremap); a forker thread keeps one child that rewrites its inherited copy of the
 * memory for a while, and then another. Each slot's state (being changed, or its address, size
 * and generation) is in memory before and after each change. A thread notices it was restored
 * by its system thread ID (a raw gettid past Amber's seccomp layer), checks what it owns, and
 * says so: "FAIL: ..." or "sum ..." lines; the first process says PASS when all of its threads
 * found their memory exact, once DIR/go exists, and ends. */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "check.h"
#include "marked_calls.h"
#include "wait_go.h"

#define WORDS 512 /* per page */
#define SLOTS 16

static const char *dir;
static int bad;

static long raw_gettid(void) { return marked(SYS_gettid, 0, 0, 0, 0); }

static inline uint64_t word(uint64_t a, uint64_t b, uint64_t i) {
  uint64_t x = a * 0x9e3779b97f4a7c15ULL ^ b * 0xc2b2ae3d27d4eb4fULL ^ (i + 1) * 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 31;
  return x * 0x94d049bb133111ebULL;
}

static void fail(const char *what, uint64_t a, uint64_t b) {
  printf("FAIL: %s (%llu, %llu)\n", what, (unsigned long long)a, (unsigned long long)b);
  fflush(stdout);
  __atomic_store_n(&bad, 1, __ATOMIC_SEQ_CST);
}

/* The rewriter: pages before pos hold generation gen, the others gen - 1. */
struct rewriter {
  uint64_t *mem, pages;
  volatile uint64_t gen, pos;
};

static void rewrite_page(struct rewriter *r, uint64_t page, uint64_t gen) {
  for (uint64_t i = 0; i < WORDS; i++) r->mem[page * WORDS + i] = word(gen, 0, page * WORDS + i);
}

static uint64_t check_rewriter(struct rewriter *r, const char *who) {
  uint64_t sum = 0;
  for (uint64_t page = 0; page < r->pages; page++) {
    uint64_t gen = page < r->pos ? r->gen : r->gen - 1;
    for (uint64_t i = 0; i < WORDS; i++) {
      uint64_t v = r->mem[page * WORDS + i];
      if (v != word(gen, 0, page * WORDS + i)) {
        fail(who, page, r->pos);
        return 0;
      }
      sum = (sum ^ v) * 0x100000001b3ULL;
    }
  }
  return sum;
}

/* Rewrites until restored (or, with a limit, for that many generations); 1 if restored. */
static int rewrite(struct rewriter *r, long tid, uint64_t until_gen) {
  while (raw_gettid() == tid) {
    uint64_t gen = r->gen, page = r->pos;
    rewrite_page(r, page, gen);
    __asm__ volatile("" ::: "memory");
    if (page + 1 == r->pages) {
      r->gen = gen + 1, r->pos = 0;
      if ((until_gen && gen + 1 >= until_gen) || go_exists(dir)) return 0;
    } else {
      r->pos = page + 1;
    }
  }
  return 1;
}

static struct rewriter main_mem;
static volatile int threads_started;

/* Each restore: a check, then on (another snapshot may come), until DIR/go. */
static void *rewriter_thread(void *arg) {
  __atomic_add_fetch(&threads_started, 1, __ATOMIC_SEQ_CST);
  do {
    rewrite(&main_mem, raw_gettid(), 0);
    uint64_t sum = check_rewriter(&main_mem, "the rewriter's memory is no state it was in");
    printf("sum rewriter gen %llu pos %llu sum %016llx\n", (unsigned long long)main_mem.gen,
           (unsigned long long)main_mem.pos, (unsigned long long)sum);
    fflush(stdout);
  } while (!bad && !go_exists(dir));
  return NULL;
}

/* The churner's slots: state 0 empty, 1 mapped (addr, pages, gen), 2 being changed. */
static struct slot {
  volatile int state;
  uint64_t *volatile addr;
  volatile uint64_t pages, gen;
} slots[SLOTS];

static void fill_slot(uint64_t *p, uint64_t pages, uint64_t s, uint64_t gen) {
  for (uint64_t i = 0; i < pages * WORDS; i++) p[i] = word(gen, s + 1, i);
}

static void check_slots(void) {
  int mapped = 0;
  for (int s = 0; s < SLOTS; s++) {
    if (slots[s].state != 1) continue;
    mapped++;
    const uint64_t *p = slots[s].addr;
    for (uint64_t i = 0; i < slots[s].pages * WORDS; i++)
      if (p[i] != word(slots[s].gen, s + 1, i)) {
        fail("a mapping changed during the pre-copy does not hold what it held", s, i);
        return;
      }
  }
  printf("slots checked %d\n", mapped);
  fflush(stdout);
}

static void churn(uint64_t *x, uint64_t *gen) {
  long tid = raw_gettid();
  for (int n = 0; raw_gettid() == tid; n++) {
    if (n % 64 == 0 && go_exists(dir)) return;
    *x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
    int s = (int)(*x % SLOTS);
    struct slot *sl = &slots[s];
    uint64_t pages = 16 + (*x >> 20) % 240;
    sl->state = 2;
    __asm__ volatile("" ::: "memory");
    if (sl->addr && (*x >> 40) % 3 == 0) { /* munmap */
      munmap(sl->addr, sl->pages * 4096);
      sl->addr = 0, sl->state = 0;
      continue;
    }
    if (sl->addr && (*x >> 40) % 3 == 1) { /* mremap: grow, maybe moved; the new part filled */
      uint64_t *p = mremap(sl->addr, sl->pages * 4096, (sl->pages + pages) * 4096, MREMAP_MAYMOVE);
      CHECK(p != MAP_FAILED, "mremap");
      for (uint64_t i = sl->pages * WORDS; i < (sl->pages + pages) * WORDS; i++)
        p[i] = word(sl->gen, s + 1, i);
      sl->addr = p, sl->pages += pages;
      __asm__ volatile("" ::: "memory");
      sl->state = 1;
      continue;
    }
    if (sl->addr) munmap(sl->addr, sl->pages * 4096);
    uint64_t *p = mmap(NULL, pages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED, "mmap");
    fill_slot(p, pages, (uint64_t)s, ++*gen);
    sl->addr = p, sl->pages = pages, sl->gen = *gen;
    __asm__ volatile("" ::: "memory");
    sl->state = 1;
  }
}

static void *churner(void *arg) {
  __atomic_add_fetch(&threads_started, 1, __ATOMIC_SEQ_CST);
  uint64_t x = 12345, gen = 0;
  do {
    churn(&x, &gen);
    check_slots();
  } while (!bad && !go_exists(dir));
  return NULL;
}

/* One child at a time: it rewrites its copy of the memory for 4 generations, then ends. A
 * restored child checks its copy (and the slots it inherited) and ends too. */
static void child(void) {
  long tid = raw_gettid();
  if (rewrite(&main_mem, tid, main_mem.gen + 4)) {
    check_rewriter(&main_mem, "a child's memory is no state it was in");
    check_slots();
    _exit(bad ? 1 : 2);
  }
  _exit(0);
}

static volatile int children_restored_bad;

static void *forker(void *arg) {
  long tid = raw_gettid();
  __atomic_add_fetch(&threads_started, 1, __ATOMIC_SEQ_CST);
  while (!go_exists(dir)) {
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) child();
    int status;
    while (waitpid(pid, &status, 0) < 0) {}
    if (WIFEXITED(status) && WEXITSTATUS(status) == 1) children_restored_bad = 1;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 2) {
      printf("child checked\n");
      fflush(stdout);
    }
    if (raw_gettid() != tid) tid = raw_gettid();
  }
  return NULL;
}

int main(int argc, char **argv) {
  CHECK(argc == 3, "usage: precopy_churn DIR MIB");
  dir = argv[1];
  main_mem.pages = strtoul(argv[2], NULL, 10) * 256;
  main_mem.mem = mmap(NULL, main_mem.pages * 4096, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(main_mem.mem != MAP_FAILED, "mmap");
  for (uint64_t page = 0; page < main_mem.pages; page++) rewrite_page(&main_mem, page, 1);
  main_mem.gen = 2;
  pthread_t t[3];
  CHECK(pthread_create(&t[0], NULL, rewriter_thread, NULL) == 0, "pthread_create");
  CHECK(pthread_create(&t[1], NULL, churner, NULL) == 0, "pthread_create");
  while (threads_started < 2) usleep(1000);
  CHECK(pthread_create(&t[2], NULL, forker, NULL) == 0, "pthread_create");
  while (threads_started < 3) usleep(1000);
  say_ready();
  pthread_join(t[0], NULL);
  pthread_join(t[1], NULL);
  pthread_join(t[2], NULL);
  CHECK(!bad && !children_restored_bad, "memory was not as it was frozen");
  printf("PASS\n");
  return 0;
}
