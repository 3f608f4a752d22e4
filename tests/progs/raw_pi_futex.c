/* PI futexes locked with the `syscall` instruction from the program's own code: their word names
 * the owner by TID and the kernel reads it itself, so Amber cannot translate it. The calls keep
 * the kernel's meaning (a free word locked gets the system TID; a word holding the virtual TID
 * the program's raw gettid gives is no owner to the kernel: ESRCH), and a snapshot is refused
 * while one is held (it would name no thread after a restore). Prints "held" and ticks while it
 * holds one, until <dir>/unlock; then "ready", and after the restore locks one again.
 * Usage: raw_pi_futex <dir> */
#include <errno.h>
#include <stdint.h>
#include <time.h>
#include <linux/futex.h>
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"
#include "raw_call.h"
#include "wait_go.h"

static uint32_t held_word, spare_word;

static void lock_unlock(const char *phase) {
  long tid = raw_call(SYS_gettid, 0, 0, 0, 0);
  CHECK(tid == gettid() && tid >= 4200000, "%s: raw gettid %ld", phase, tid);
  CHECK(raw_call(SYS_futex, (long)&spare_word, FUTEX_LOCK_PI_PRIVATE, 0, 0) == 0,
        "%s: FUTEX_LOCK_PI of a free word", phase);
  uint32_t w = spare_word & FUTEX_TID_MASK;
  CHECK(w != 0 && w != (uint32_t)tid, "%s: the kernel wrote %u, not a system TID", phase, w);
  CHECK(raw_call(SYS_futex, (long)&spare_word, FUTEX_UNLOCK_PI_PRIVATE, 0, 0) == 0 &&
            spare_word == 0,
        "%s: FUTEX_UNLOCK_PI", phase);
  /* a word that holds the virtual TID names no task to the kernel */
  spare_word = (uint32_t)tid;
  CHECK(raw_call(SYS_futex, (long)&spare_word, FUTEX_TRYLOCK_PI_PRIVATE, 0, 0) == -ESRCH,
        "%s: TRYLOCK_PI of a word naming a virtual TID", phase);
  spare_word = 0;
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  setvbuf(stdout, NULL, _IOLBF, 0);
  lock_unlock("before");
  CHECK(raw_call(SYS_futex, (long)&held_word, FUTEX_LOCK_PI_PRIVATE, 0, 0) == 0, "lock");
  printf("held\n");
  for (long tick = 0; !dir_has(argv[1], "unlock"); tick++) {
    printf("tick %ld\n", tick);
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  CHECK(raw_call(SYS_futex, (long)&held_word, FUTEX_UNLOCK_PI_PRIVATE, 0, 0) == 0, "unlock");
  say_ready();
  wait_go(argv[1]);
  lock_unlock("after");
  printf("PASS\n");
  return 0;
}
