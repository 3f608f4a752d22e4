/* PI futexes from the program's own code. A PI futex's word names its owner by TID, and the
 * kernel reads and writes it itself: FUTEX_LOCK_PI finds the owner by the TID in the word (a
 * virtual one, which the program's raw gettid gives, is no task: ESRCH), FUTEX_UNLOCK_PI wants
 * the caller's system TID there (EPERM), and a lock the kernel grants gets the new owner's
 * system TID written into it. No translation can keep one number in the word for both user
 * space and the kernel without racing the program's own atomic operations on it, so the call is
 * made as it is, and nothing is silently wrong: the word is remembered, and a snapshot refuses
 * while one is held (after a restore its system TID would name no thread, or another process's),
 * naming the process and the word. glibc's PI mutexes are the owned-lock list's (owned_locks.c).
 * docs/seccomp.md, "PI futexes". */
#include <sys/uio.h>

#include "../core/amber.h"
#include "../agent/agent.h"

#define PI_WORDS 64
#define FUTEX_TID_MASK 0x3fffffff

static uint64_t pi_words[PI_WORDS]; /* the words raw PI calls named, claimed by compare-and-swap */
static int pi_overflow;             /* more of them than that: every snapshot is refused */

static void note(uint64_t word) {
  for (int i = 0; i < PI_WORDS; i++) {
    uint64_t seen = __atomic_load_n(&pi_words[i], __ATOMIC_ACQUIRE);
    if (seen == word) return;
    if (!seen && __atomic_compare_exchange_n(&pi_words[i], &seen, word, 0, __ATOMIC_ACQ_REL,
                                             __ATOMIC_ACQUIRE))
      return;
    if (seen == word) return;
  }
  __atomic_store_n(&pi_overflow, 1, __ATOMIC_RELAXED);
}

long amber_trap_futex(const long a[6]) {
  if (amber_active()) note((uint64_t)a[0]);
  return amber_sys6(SYS_futex, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* The word's value, read without faulting (it may be unmapped by now): 0 when it cannot be. */
static uint32_t read_word(uint64_t at) {
  uint32_t v = 0;
  struct iovec local = {&v, sizeof v}, remote = {(void *)at, sizeof v};
  long r = amber_sys6(SYS_process_vm_readv, amber_sys_getpid(), (long)&local, 1, (long)&remote, 1,
                      0);
  return r == sizeof v ? v : 0;
}

int amber_pi_futex_capture(void) {
  if (__atomic_load_n(&pi_overflow, __ATOMIC_RELAXED)) {
    amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
              "its own code made PI futex calls (FUTEX_LOCK_PI) on more than %d words, whose "
              "owners Amber cannot check: their words name threads by system TID, which a "
              "restore changes",
              PI_WORDS);
    return -1;
  }
  for (int i = 0; i < PI_WORDS; i++) {
    uint64_t at = __atomic_load_n(&pi_words[i], __ATOMIC_ACQUIRE);
    if (!at) break;
    uint32_t tid = read_word(at) & FUTEX_TID_MASK;
    if (!tid) continue;
    int32_t v = amber_pid_s2v((int32_t)tid);
    amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
              "the PI futex at 0x%lx (FUTEX_LOCK_PI from the program's own code) is held by thread "
              "%d: its word names the owner by system TID, which Amber cannot keep across a "
              "restore",
              (unsigned long)at, v > 0 ? v : (int32_t)tid);
    return -1;
  }
  return 0;
}
