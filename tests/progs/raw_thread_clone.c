/* Threads made by a raw clone of a thread without CLONE_SETTLS (the `syscall` instruction, on
 * stacks of their own, as assembly makes them): the creator is told a virtual tid, the
 * CLONE_PARENT_SETTID and CLONE_CHILD_SETTID words hold it, the thread's raw and libc gettid
 * say it, and a raw tgkill by it reaches that thread, whose raw rt_sigtimedwait reads the
 * sender's virtual pid. The threads check their raw gettid all along, through a live snapshot
 * and two restores (their tids stay the same virtual ones); after the last, each is signalled
 * and asked again, a new one is made, and all of them end and are joined through
 * CLONE_CHILD_CLEARTID. With "raw-leads", this thread blocks every signal with a raw call, so
 * that a raw thread takes the checkpoint signal and leads each snapshot (and comes back as the
 * restored process's first thread); with "raw-deaf", the first raw thread blocks every signal,
 * so that the snapshots seize it from outside.
 * Usage: raw_thread_clone <dir> [raw-leads | raw-deaf] */
#include <linux/futex.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "raw_call.h"
#include "wait_go.h"

#define THREADS 4 /* three made before the snapshots, one after */
#define STACK (256 * 1024)
#define FLAGS                                                                                    \
  (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |            \
   CLONE_PARENT_SETTID | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID)

struct slot {
  volatile int32_t ptid, ctid; /* CLONE_PARENT_SETTID's, CLONE_CHILD_SETTID's (and CLEARTID's) */
  long tid;                    /* what the clone returned */
  volatile long self, libc_self, pid; /* the thread's raw gettid, libc gettid, raw getpid */
  volatile long got, sender;          /* SIGUSR1s it took, the last one's si_pid */
  volatile long bad;                  /* a raw gettid that was not `self` */
  volatile int ask, stop, deaf;
  volatile long asked_raw, asked_libc;
  char *stack;
};

static struct slot slots[THREADS];
static pid_t self;

static void pause_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
  nanosleep(&ts, NULL);
}

/* The thread: raw calls only, but one libc gettid. */
static __attribute__((noreturn, used)) void thread_main(struct slot *s) {
  s->pid = raw_call(SYS_getpid, 0, 0, 0, 0);
  long me = raw_call(SYS_gettid, 0, 0, 0, 0);
  s->libc_self = gettid();
  uint64_t usr1 = 1ULL << (SIGUSR1 - 1), all = ~0ULL;
  raw_call(SYS_rt_sigprocmask, SIG_BLOCK, (long)(s->deaf ? &all : &usr1), 0, 8);
  s->self = me;
  while (!s->stop) {
    siginfo_t info;
    struct timespec wait = {0, 20 * 1000 * 1000};
    memset(&info, 0, sizeof info);
    if (raw_call(SYS_rt_sigtimedwait, (long)&usr1, (long)&info, (long)&wait, 8) == SIGUSR1) {
      s->sender = info.si_pid;
      s->got++;
    }
    long now = raw_call(SYS_gettid, 0, 0, 0, 0);
    if (now != me) s->bad = now;
    if (s->ask) {
      s->asked_raw = now;
      s->asked_libc = gettid();
      s->ask = 0;
    }
  }
  raw_call(SYS_exit, 0, 0, 0, 0);
  __builtin_unreachable();
}

/* clone(2) made with the `syscall` instruction; the thread starts on its stack in thread_main. */
static long clone_thread(struct slot *s) {
  register long r10 __asm__("r10") = (long)&s->ctid;
  register long r8 __asm__("r8") = 0;
  register long r9 __asm__("r9") = 0x1234;
  register long r12 __asm__("r12") = (long)thread_main;
  register long r13 __asm__("r13") = (long)s;
  long ret;
  __asm__ volatile("syscall\n\t"
                   "test %%rax, %%rax\n\t"
                   "jnz 1f\n\t"
                   "xor %%ebp, %%ebp\n\t"
                   "mov %%r13, %%rdi\n\t"
                   "call *%%r12\n\t"
                   "ud2\n"
                   "1:"
                   : "=a"(ret)
                   : "0"((long)SYS_clone), "D"((long)FLAGS), "S"(s->stack + STACK),
                     "d"(&s->ptid), "r"(r10), "r"(r8), "r"(r9), "r"(r12), "r"(r13)
                   : "rcx", "r11", "memory");
  return ret;
}

static void make(int i) {
  struct slot *s = &slots[i];
  s->stack = mmap(NULL, STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(s->stack != MAP_FAILED, "mmap of a stack");
  s->tid = clone_thread(s);
  CHECK(s->tid >= 4200000 && s->tid != self, "thread %d: the raw clone returned %ld", i, s->tid);
  CHECK(s->ptid == s->tid, "thread %d: CLONE_PARENT_SETTID's word is %d, not %ld", i, s->ptid,
        s->tid);
  for (int k = 0; k < 2000 && !s->self; k++) pause_ms(1);
  /* written in the thread before it runs (CLONE_CHILD_CLEARTID clears the same word) */
  CHECK(s->ctid == s->tid, "thread %d: CLONE_CHILD_SETTID's word is %d, not %ld", i, s->ctid,
        s->tid);
  CHECK(s->self == s->tid && s->libc_self == s->tid && s->pid == self,
        "thread %d (%ld): its raw gettid says %ld, its libc gettid %ld, its raw getpid %ld "
        "(the process is %d)",
        i, s->tid, s->self, s->libc_self, s->pid, self);
  for (int k = 0; k < i; k++)
    CHECK(slots[k].tid != s->tid, "threads %d and %d both have tid %ld", k, i, s->tid);
}

/* Each thread takes a SIGUSR1 sent by a raw tgkill to its virtual tid, from this process. */
static void signal_all(const char *phase, int n) {
  for (int i = 0; i < n; i++) {
    struct slot *s = &slots[i];
    long before = s->got;
    long r = raw_call(SYS_tgkill, self, s->tid, SIGUSR1, 0);
    CHECK(r == 0, "%s: raw tgkill(%d, %ld, SIGUSR1) returned %ld", phase, self, s->tid, r);
    CHECK(tgkill(self, (pid_t)s->tid, 0) == 0, "%s: libc tgkill(%d, %ld, 0) failed", phase, self,
          s->tid);
    for (int k = 0; k < 2000 && s->got == before; k++) pause_ms(1);
    CHECK(s->got > before && s->sender == self,
          "%s: thread %d (%ld) took %ld SIGUSR1 (had %ld), the last from %ld, not %d", phase, i,
          s->tid, s->got, before, s->sender, self);
    CHECK(!s->bad, "%s: thread %d (%ld): its raw gettid said %ld", phase, i, s->tid, s->bad);
  }
}

static void ask_all(const char *phase, int n) {
  for (int i = 0; i < n; i++) {
    struct slot *s = &slots[i];
    s->asked_raw = s->asked_libc = 0;
    s->ask = 1;
    for (int k = 0; k < 2000 && s->ask; k++) pause_ms(1);
    CHECK(!s->ask && s->asked_raw == s->tid && s->asked_libc == s->tid,
          "%s: thread %d (%ld): raw gettid %ld, libc gettid %ld", phase, i, s->tid, s->asked_raw,
          s->asked_libc);
  }
}

/* CLONE_CHILD_CLEARTID: the kernel clears the word and wakes its futex as the thread ends. */
static void join(int i) {
  struct slot *s = &slots[i];
  s->stop = 1;
  for (int k = 0; k < 200 && s->ctid; k++) {
    struct timespec ts = {0, 10 * 1000 * 1000};
    int32_t v = s->ctid;
    if (v) raw_call(SYS_futex, (long)&s->ctid, FUTEX_WAIT, v, (long)&ts);
  }
  CHECK(s->ctid == 0, "thread %d (%ld) did not end (its CLEARTID word is %d)", i, s->tid,
        s->ctid);
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  setvbuf(stdout, NULL, _IOLBF, 0);
  self = getpid();
  slots[0].deaf = argc > 2 && !strcmp(argv[2], "raw-deaf");
  for (int i = 0; i < THREADS - 1; i++) make(i);
  signal_all("before", THREADS - 1);
  ask_all("before", THREADS - 1);
  printf("tids %ld %ld %ld\n", slots[0].tid, slots[1].tid, slots[2].tid);
  int raw_leads = argc > 2 && !strcmp(argv[2], "raw-leads");
  if (raw_leads) {
    uint64_t all = ~0ULL;
    CHECK(raw_call(SYS_rt_sigprocmask, SIG_BLOCK, (long)&all, 0, 8) == 0, "raw sigprocmask");
  }
  say_ready();
  /* Through the snapshots every thread checks its raw gettid all along, and is signalled
   * unless this thread holds the snapshots off (a signal it sent to a thread already frozen
   * would be lost: the README's limitations). */
  while (!go_exists(argv[1])) {
    if (!raw_leads) signal_all("running", THREADS - 1);
    for (int i = 0; i < THREADS - 1; i++)
      CHECK(!slots[i].bad, "running: thread %d (%ld): its raw gettid said %ld", i, slots[i].tid,
            slots[i].bad);
    pause_ms(10);
  }
  CHECK(getpid() == self, "after the restore getpid is %d, not %d", getpid(), self);
  for (int i = 0; i < THREADS - 1; i++)
    CHECK(slots[i].ptid == slots[i].tid && slots[i].ctid == slots[i].tid,
          "restored: thread %d: its words are %d and %d, not %ld", i, slots[i].ptid,
          slots[i].ctid, slots[i].tid);
  signal_all("restored", THREADS - 1);
  ask_all("restored", THREADS - 1);
  make(THREADS - 1);
  signal_all("made after the restore", THREADS);
  for (int i = 0; i < THREADS; i++) join(i);
  printf("PASS\n");
  return 0;
}
