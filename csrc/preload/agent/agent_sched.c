/* Each thread's scheduling: its policy (SCHED_BATCH, SCHED_IDLE, a real-time one: chrt), nice
 * value, I/O priority (ionice) and CPU affinity, which a restored thread would otherwise take
 * from the restorer: a backup run under `ionice -c3 chrt -i 0` came back competing with
 * everything, without a word. The kernel keeps all four per thread, and programs set them per
 * thread (a database's compaction threads lower their own nice value and I/O priority, an audio
 * thread is real-time). The leader's (the thread that runs the checkpoint) are saved, and so
 * are those of each thread whose own differ from them (read by the leader's TID, which any
 * thread may; a seized thread's read by TID by the leader); after a restore each thread sets
 * its own, or the leader's, before its change of user (a real-time policy or a lower nice
 * value may need the restorer's privilege). And the leader's timer slack (PR_SET_TIMERSLACK:
 * how late the kernel may fire timers, 50 us by default; an audio program asks for 1 ns),
 * which threads inherit, in every thread: only a thread itself reads its own, so one a thread
 * set apart is not kept.
 *
 * Few threads differ: their records are a small table in the library's data, which a pre-copy
 * does not track (its every page counts as written at the freeze, and a pre-copied snapshot
 * then less often leaves its writing to after the thaw: agent_cow.c); more threads with their
 * own than it holds make the snapshot refuse, naming a thread. */
#include <string.h>
#include <sys/prctl.h>

#include "agent.h"
#include "agent_thread_own.h"

#define SCHED_ATTR_SIZE_VER0 48
#define IOPRIO_WHO_PROCESS 1 /* with a TID, or 0: the calling thread */
#define AFFINITY_WORDS 4      /* 256 CPUs; a larger kernel mask is compared, not kept */

struct thread_sched {
  int32_t have_attr, ioprio, affinity_len, pad;
  uint32_t attr[SCHED_ATTR_SIZE_VER0 / 4]; /* struct sched_attr, its first version */
  uint64_t affinity[AFFINITY_WORDS];
};

/* Saved with memory. */
static struct thread_sched leader_sched;
static int64_t leader_slack = -1; /* ns, or -1: not read */
static struct amber_thread_own owners; /* the threads whose own differ, and a refusal */
static struct thread_sched own[AMBER_OWN_MAX]; /* by slot in owners */

/* `tid`: a thread's system TID, or 0 for the calling thread; -1 if its mask does not fit. */
static int read_sched(int32_t tid, struct thread_sched *s) {
  memset(s, 0, sizeof *s);
  s->have_attr = amber_sys4(SYS_sched_getattr, tid, s->attr, SCHED_ATTR_SIZE_VER0, 0) == 0;
  s->ioprio = (int32_t)amber_sys2(SYS_ioprio_get, IOPRIO_WHO_PROCESS, tid);
  uint64_t mask[16] = {0};
  long n = amber_sys3(SYS_sched_getaffinity, tid, sizeof mask, mask);
  for (long w = AFFINITY_WORDS; n > 0 && w < n / 8; w++)
    if (mask[w]) return -1;
  long len = n > (long)sizeof s->affinity ? (long)sizeof s->affinity : n;
  s->affinity_len = len <= 0 ? 0 : (int32_t)len;
  memcpy(s->affinity, mask, sizeof s->affinity);
  return 0;
}

static int64_t slack_of(int32_t tid) {
  return tid ? -1 : amber_sys2(SYS_prctl, PR_GET_TIMERSLACK, 0); /* a seized leader: never */
}

/* By the leader, before any thread takes its part. */
void amber_sched_begin(void) { amber_own_begin(&owners); }

/* `tid`: the thread's system TID, or 0 for the calling thread. */
void amber_sched_thread_capture(const struct amber_thread_rec *rec, int32_t tid) {
  long i = rec - amber_ckpt.threads;
  int32_t self = tid ? tid : (int32_t)amber_sys_gettid();
  int32_t leader = __atomic_load_n(&amber_ckpt.leader_tid, __ATOMIC_ACQUIRE);
  if (i < 0 || i >= AMBER_MAX_THREADS) return;
  struct thread_sched mine, theirs;
  if (read_sched(tid, &mine)) return amber_own_refuse(&owners, self, 1);
  if (rec->leader || self == leader) {
    leader_sched = mine;
    leader_slack = slack_of(tid);
    return;
  }
  if (!read_sched(leader, &theirs) && !memcmp(&mine, &theirs, sizeof mine)) return;
  int slot = amber_own_claim(&owners, i, self);
  if (slot >= 0) own[slot] = mine;
}

/* After every thread's capture: 0, or -1 with amber_ckpt.error. */
int amber_sched_check(void) {
  return amber_own_check(&owners, "scheduling", "its CPU affinity names a CPU past the 256th",
                         "more than 32 threads set their own (nice value, policy, I/O priority "
                         "or CPU affinity), which Amber cannot all keep");
}

void amber_sched_thread_after_restore(void) {
  int slot = amber_own_mine(&owners);
  const struct thread_sched *s = slot >= 0 ? &own[slot] : &leader_sched;
  if (s->have_attr) {
    uint32_t now[SCHED_ATTR_SIZE_VER0 / 4], attr[SCHED_ATTR_SIZE_VER0 / 4];
    memcpy(attr, s->attr, sizeof attr);
    /* the policy (attr[1]), its flags, nice and priority, and a deadline's times */
    if (amber_sys4(SYS_sched_getattr, 0, now, SCHED_ATTR_SIZE_VER0, 0) < 0 ||
        memcmp(now + 1, attr + 1, SCHED_ATTR_SIZE_VER0 - 4)) {
      attr[0] = SCHED_ATTR_SIZE_VER0;
      long err = amber_sys3(SYS_sched_setattr, 0, attr, 0);
      if (err < 0) amber_log("restore: cannot set the scheduling policy back (%ld)", err);
    }
  }
  if (s->ioprio >= 0 && amber_sys2(SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0) != s->ioprio)
    amber_sys3(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, s->ioprio);
  if (s->affinity_len > 0) amber_sys3(SYS_sched_setaffinity, 0, s->affinity_len, s->affinity);
  if (leader_slack > 0 && amber_sys2(SYS_prctl, PR_GET_TIMERSLACK, 0) != leader_slack)
    amber_sys2(SYS_prctl, PR_SET_TIMERSLACK, leader_slack);
}
