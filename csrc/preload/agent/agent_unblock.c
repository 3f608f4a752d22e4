/* A thread that keeps the checkpoint signal blocked never runs the handler: Go's runtime keeps
 * its signal-forwarding thread (ensureSigM) with every signal blocked that the program did not
 * ask for with signal.Notify, set with the raw system call. The leader asks the coordinator,
 * which is outside the process, to take the signal off that thread's mask with ptrace
 * (ctl_unblock.c); the pending signal then lands, and the thread puts its own mask back into
 * its signal frame, so that sigreturn restores it, here or after a restore. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <ucontext.h>

#include "agent.h"

#define CKPT_BIT (1ULL << (AMBER_CKPT_SIGNAL - 1))

static int32_t failed_tid, failed_err;

static struct amber_unblock *request(void) {
  struct amber_ctl *c = &amber.table->ctl;
  struct amber_agent_slot *slot = amber_agent_my_slot();
  return slot ? &c->unblock[slot - c->slots] : NULL;
}

static uint64_t status_hex(const char *status, const char *name) {
  for (const char *p = status; *p; p++) {
    const char *n = name, *q = p;
    while (*n && *q == *n) n++, q++;
    if (*n) continue;
    while (*q == '\t' || *q == ' ') q++;
    uint64_t v = 0;
    amber_parse_u64(&q, &v, 16);
    return v;
  }
  return 0;
}

/* Signals 1 to 30 but SIGKILL and SIGSTOP: a thread that blocks all of them blocks every signal
 * it can (glibc keeps 32 and 33, the library SIGSYS). */
#define EVERY_SIGNAL 0x3ffbfeffULL

/* Holds the checkpoint signal off with it pending: only the coordinator can let it in. A thread
 * inside the handler has taken it already, so it is never asked for. With `all`, only a thread
 * that blocks every signal it can: the program's own doing, as a signal-handling thread's (Node
 * has one), not a moment's hold of the library's around a fork, which adds one signal. */
static int held_off(int32_t tid, int all) {
  static char status[4096]; /* the leader's alone; its stack may be a small signal stack */
  char path[64];
  amber_fmt(path, sizeof path, "/proc/self/task/%d/status", tid);
  long len = amber_read_file(path, status, sizeof status - 1);
  if (len <= 0) return 0;
  status[len] = 0;
  /* In a wait that neither a signal nor a ptrace stop ends (D): it may yet come by itself. */
  const char *state = strstr(status, "State:\t");
  if (state && state[7] == 'D') return 0;
  uint64_t blocked = status_hex(status, "SigBlk:");
  /* ... and waits (S) in it: glibc blocks every signal for the moment it makes a thread, which
   * runs meanwhile, as does the new thread until it unblocks them. */
  if (all && ((blocked & EVERY_SIGNAL) != EVERY_SIGNAL || !state || state[7] != 'S')) return 0;
  return (blocked & CKPT_BIT) && (status_hex(status, "SigPnd:") & CKPT_BIT);
}

static int32_t wait_state(struct amber_unblock *u, int32_t from, int ms) {
  for (int waited = 0; waited < ms; waited += 5) {
    int32_t now = __atomic_load_n(&u->state, __ATOMIC_ACQUIRE);
    if (now != from) return now;
    amber_futex_wait((uint32_t *)&u->state, (uint32_t)from, 1, 5);
  }
  return from;
}

/* The previous thread let in has put its mask back (or never will: 500 ms). */
static void wait_consumed(struct amber_unblock *u) {
  if (wait_state(u, AMBER_UNBLOCK_DONE, 500) == AMBER_UNBLOCK_DONE)
    __atomic_store_n(&u->state, AMBER_UNBLOCK_NONE, __ATOMIC_RELEASE);
}

void amber_unblock_begin(void) {
  failed_tid = failed_err = 0;
  amber_seize_begin();
  struct amber_unblock *u = request();
  if (u) __atomic_store_n(&u->state, AMBER_UNBLOCK_NONE, __ATOMIC_RELEASE);
}

void amber_unblock_stragglers(const int32_t *tids, int n, int (*came)(int32_t tid), int all) {
  struct amber_unblock *u = request();
  if (!u || amber.table->ctl.coordinator <= 0) return;
  struct amber_ctl *c = &amber.table->ctl;
  for (int i = 0; i < n; i++) {
    if (came(tids[i]) || !held_off(tids[i], all)) continue;
    wait_consumed(u);
    /* Seized, while there is a slot for it (agent_seize.c); let in otherwise. */
    struct amber_seized *seized = amber_seize_offer();
    u->tid = tids[i];
    u->err = 0;
    u->mode = seized ? AMBER_UNBLOCK_SEIZE : AMBER_UNBLOCK_LET_IN;
    u->mask = (uint64_t)seized;
    __atomic_store_n(&u->state, AMBER_UNBLOCK_ASKED, __ATOMIC_RELEASE);
    __atomic_add_fetch(&c->reports, 1, __ATOMIC_ACQ_REL); /* wakes the coordinator */
    amber_futex_wake(&c->reports, 1);
    int32_t got = wait_state(u, AMBER_UNBLOCK_ASKED, 5000);
    if (got == AMBER_UNBLOCK_DONE && u->mode == AMBER_UNBLOCK_SEIZE) {
      /* Nobody else reads the answer: the thread stays stopped. */
      __atomic_store_n(&u->state, AMBER_UNBLOCK_NONE, __ATOMIC_RELEASE);
      if (amber_seize_take(seized, tids[i])) continue;
      got = AMBER_UNBLOCK_FAILED;
      u->err = E2BIG;
    }
    if (got == AMBER_UNBLOCK_DONE) continue;
    failed_tid = tids[i];
    failed_err = got == AMBER_UNBLOCK_FAILED ? u->err : ETIMEDOUT;
    /* A late answer must not be taken for the next one. */
    __atomic_store_n(&u->state, AMBER_UNBLOCK_NONE, __ATOMIC_RELEASE);
  }
}

int amber_unblock_failure(int32_t tid) { return tid == failed_tid ? failed_err : 0; }

void amber_unblock_restore_mask(void *uc) {
  struct amber_unblock *u = request();
  if (!u || __atomic_load_n(&u->state, __ATOMIC_ACQUIRE) != AMBER_UNBLOCK_DONE ||
      u->tid != amber_sys_gettid())
    return;
  *(uint64_t *)&((ucontext_t *)uc)->uc_sigmask = u->mask;
  __atomic_store_n(&u->state, AMBER_UNBLOCK_NONE, __ATOMIC_RELEASE);
  amber_futex_wake((uint32_t *)&u->state, 1);
}
