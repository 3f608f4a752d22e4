/* Credentials a thread changed for itself alone: the kernel keeps them per thread, and a raw
 * setresuid/setresgid (Samba's per-thread impersonation: glibc's change every thread) or a
 * setfsuid/setfsgid (per thread in glibc too) changes the calling thread's only. Every thread
 * once came back with the leader's (the thread that runs the checkpoint), a worker serving a
 * user's files as root, without a word. The leader's are saved by agent_identity.c and
 * agent_caps.c; here, its file system user and group, and each thread whose users, groups or
 * capability sets differ from the leader's: read from /proc/self/task/TID/status (a seized
 * thread's by the leader), one thread at a time (one buffer, not on a signal stack). After a
 * restore each thread takes its own. Few threads differ: a small table, as agent_sched.c's;
 * more than it holds, or supplementary groups of a thread's own, make the snapshot refuse,
 * naming the thread. */
#include <string.h>

#include "agent.h"
#include "agent_thread_own.h"

/* Saved with memory. */
static struct amber_thread_creds leader_creds;
static int32_t have_leader;
static struct amber_thread_own owners; /* the threads whose own differ, and a refusal */
static struct amber_thread_creds own[AMBER_OWN_MAX]; /* by slot in owners */

static int32_t busy; /* the buffer's */
static char text[4096];

static uint64_t field(const char *name, int base, int nth) {
  const char *p = strstr(text, name);
  if (!p) return 0;
  p += strlen(name);
  for (int i = 0;; i++) {
    while (*p == ' ' || *p == '\t') p++;
    uint64_t v = 0;
    for (;; p++) {
      int d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
      if (d < 0 || d >= base) break;
      v = v * (uint64_t)base + (uint64_t)d;
    }
    if (i == nth) return v;
  }
}

/* FNV-1a of the Groups line, to compare. */
static uint64_t groups_hash(void) {
  const char *p = strstr(text, "Groups:");
  uint64_t h = 1469598103934665603ULL;
  for (; p && *p && *p != '\n'; p++) h = (h ^ (uint8_t)*p) * 1099511628211ULL;
  return h;
}

static int read_creds(int32_t tid, struct amber_thread_creds *c) {
  char path[64];
  amber_fmt(path, sizeof path, "/proc/self/task/%d/status", tid);
  long n = amber_read_file(path, text, sizeof text - 1);
  if (n <= 0) return -1;
  text[n] = 0;
  memset(c, 0, sizeof *c);
  for (int i = 0; i < 4; i++) {
    c->uid[i] = (uint32_t)field("\nUid:", 10, i);
    c->gid[i] = (uint32_t)field("\nGid:", 10, i);
  }
  c->caps[0] = field("\nCapInh:", 16, 0);
  c->caps[1] = field("\nCapPrm:", 16, 0);
  c->caps[2] = field("\nCapEff:", 16, 0);
  c->groups = groups_hash();
  return 0;
}

void amber_creds_begin(void) {
  amber_own_begin(&owners);
  have_leader = 0;
}

/* `tid`: the thread's system TID, or 0 for the calling thread. */
void amber_creds_thread_capture(const struct amber_thread_rec *rec, int32_t tid) {
  long i = rec - amber_ckpt.threads;
  int32_t self = tid ? tid : (int32_t)amber_sys_gettid();
  int32_t leader = __atomic_load_n(&amber_ckpt.leader_tid, __ATOMIC_ACQUIRE);
  if (i < 0 || i >= AMBER_MAX_THREADS) return;
  struct amber_thread_creds mine, theirs;
  while (__atomic_exchange_n(&busy, 1, __ATOMIC_ACQUIRE)) amber_sys0(SYS_sched_yield);
  int err = read_creds(self, &mine);
  int is_leader = rec->leader || self == leader;
  if (!err && !is_leader) err = read_creds(leader, &theirs);
  __atomic_store_n(&busy, 0, __ATOMIC_RELEASE);
  if (err) return;
  if (is_leader) {
    leader_creds = mine;
    have_leader = 1;
    return;
  }
  if (!memcmp(&mine, &theirs, sizeof mine)) return;
  if (mine.groups != theirs.groups) return amber_own_refuse(&owners, self, 1);
  int slot = amber_own_claim(&owners, i, self);
  if (slot >= 0) own[slot] = mine;
}

int amber_creds_check(void) {
  return amber_own_check(&owners, "credentials",
                         "it has supplementary groups of its own (a raw setgroups)",
                         "more than 32 threads have their own users or capabilities, which "
                         "Amber cannot all keep");
}

/* The calling thread's own after a restore (the leader's if it had none), or 0. */
const struct amber_thread_creds *amber_creds_mine(int *is_own) {
  int slot = amber_own_mine(&owners);
  *is_own = slot >= 0;
  return slot >= 0 ? &own[slot] : have_leader ? &leader_creds : 0;
}
