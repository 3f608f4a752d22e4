/* The coordinator lets the checkpoint signal in to a thread that holds it off (a Go runtime
 * thread: see csrc/preload/agent/agent_unblock.c), when that thread's agent asks: it seizes the
 * thread with ptrace, stops it, hands its mask to the agent, takes the signal off the mask and
 * lets it go. A thread cannot trace one of its own process, so this is done from outside. Only
 * a thread of the asking slot's own process is touched, and only if that process is one of the
 * application's (the tables are the application's word, docs/trust-model.md). All of it in
 * one call, on one thread: the tracer is a thread, not a process. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "../common/sys.h"
#include "../common/table.h"
#include "control.h"

#define CKPT_BIT (1ULL << (62 - 1)) /* AMBER_CKPT_SIGNAL of the interposition library */

static void answer(struct amber_unblock *u, int err) {
  u->err = -err;
  __atomic_store_n(&u->state, err ? AMBER_UNBLOCK_FAILED : AMBER_UNBLOCK_DONE, __ATOMIC_RELEASE);
  amber_sys6(SYS_futex, (long)&u->state, FUTEX_WAKE, 0x7fffffff, 0, 0, 0);
}

/* Answers before letting the thread go: once it runs, it looks for its mask in `u`. */
static void let_in(struct amber_table *t, int32_t pid, struct amber_unblock *u) {
  char path[64];
  int32_t tid = u->tid;
  snprintf(path, sizeof path, "/proc/%d/task/%d", pid, tid);
  if (pid <= 0 || tid <= 0 || access(path, F_OK)) return answer(u, -ESRCH); /* not its thread */
  if (!amber_app_member(t, pid)) return answer(u, -EPERM); /* the tables name another process */
  if (ptrace(PTRACE_SEIZE, tid, 0, 0)) return answer(u, -errno);
  int err = 0, status = 0;
  uint64_t mask = 0;
  if (ptrace(PTRACE_INTERRUPT, tid, 0, 0)) err = -errno;
  while (!err && waitpid(tid, &status, __WALL) < 0)
    if (errno != EINTR) err = -errno;
  if (!err && !WIFSTOPPED(status)) err = -ESRCH;
  if (!err && ptrace(PTRACE_GETSIGMASK, tid, sizeof mask, &mask)) err = -errno;
  uint64_t open = mask & ~CKPT_BIT;
  u->mask = mask;
  if (!err && ptrace(PTRACE_SETSIGMASK, tid, sizeof open, &open)) err = -errno;
  answer(u, err);
  /* A stop for a signal being delivered (the seccomp layer's SIGSYS, forced on a raw call)
   * gives the signal back, or it would be lost and the call skipped. */
  int sig = !err && WIFSTOPPED(status) && (status >> 16) == 0 ? WSTOPSIG(status) : 0;
  ptrace(PTRACE_DETACH, tid, 0, sig);
}

static uint64_t field(const char *status, const char *name) {
  const char *p = strstr(status, name);
  return p ? strtoull(p + strlen(name), NULL, 16) : 0;
}

/* A thread of `pid` to let in as its leader when none can take the signal: every thread blocks
 * it (behind the library's back), with it pending for the process and the handler installed.
 * The main thread rather than another; none in a wait no signal ends (D). 0: none. */
static int32_t leader_to_let_in(int32_t pid) {
  char path[64], status[4096];
  snprintf(path, sizeof path, "/proc/%d/task", pid);
  DIR *d = opendir(path);
  int32_t chosen = 0;
  int deaf = d != NULL;
  for (struct dirent *e; deaf && (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    int32_t tid = atoi(e->d_name);
    snprintf(path, sizeof path, "/proc/%d/task/%d/status", pid, tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t len = fd >= 0 ? read(fd, status, sizeof status - 1) : -1;
    if (fd >= 0) close(fd);
    if (len <= 0) continue;
    status[len] = 0;
    const char *state = strstr(status, "State:\t");
    if (!(field(status, "SigCgt:") & CKPT_BIT) || !(field(status, "ShdPnd:") & CKPT_BIT) ||
        !(field(status, "SigBlk:") & CKPT_BIT))
      deaf = 0;
    else if (state && strchr("DZX", state[7]))
      continue;
    else if (!chosen || tid == pid)
      chosen = tid;
  }
  if (d) closedir(d);
  return deaf ? chosen : 0;
}

/* When a process has had no thread that can take the signal for a while (a moment's hold, as
 * around a thread's creation or before a child has its pid, ends by itself), one of its threads
 * is let in as above, unasked: its agent puts its mask back in its frame as it leads. */
#define DEAF_GRACE_MS 300
static int64_t deaf_since[AMBER_CTL_MAX_PROCS], generation_start;
static uint32_t deaf_generation;

static void let_in_leaders(struct amber_table *t) {
  struct amber_ctl *c = &t->ctl;
  int64_t now = amber_ctl_now_ms();
  uint32_t generation = __atomic_load_n(&c->generation, __ATOMIC_ACQUIRE);
  if (generation != deaf_generation) {
    memset(deaf_since, 0, sizeof deaf_since);
    generation_start = now;
  }
  deaf_generation = generation;
  if (now - generation_start < 100) return; /* most take it at once: no /proc reads for them */
  for (uint32_t i = 0; i < c->nslots && i < AMBER_CTL_MAX_PROCS; i++) {
    struct amber_unblock *u = &c->unblock[i];
    if (__atomic_load_n(&c->slots[i].state, __ATOMIC_ACQUIRE) != AMBER_AGENT_NONE ||
        __atomic_load_n(&u->state, __ATOMIC_ACQUIRE) != AMBER_UNBLOCK_NONE)
      continue;
    int32_t pid = amber_v2s(t, AMBER_KIND_PID, c->slots[i].vpid);
    int32_t tid = pid > 0 ? leader_to_let_in(pid) : 0;
    if (!tid) {
      deaf_since[i] = 0;
      continue;
    }
    if (!deaf_since[i]) deaf_since[i] = now;
    if (now - deaf_since[i] < DEAF_GRACE_MS) continue;
    deaf_since[i] = 0;
    u->tid = tid;
    u->mode = AMBER_UNBLOCK_LET_IN;
    let_in(t, pid, u);
  }
}

void amber_ctl_serve_unblock(struct amber_table *t) {
  struct amber_ctl *c = &t->ctl;
  let_in_leaders(t);
  for (uint32_t i = 0; i < c->nslots && i < AMBER_CTL_MAX_PROCS; i++) {
    struct amber_unblock *u = &c->unblock[i];
    if (__atomic_load_n(&u->state, __ATOMIC_ACQUIRE) != AMBER_UNBLOCK_ASKED) continue;
    int32_t pid = amber_v2s(t, AMBER_KIND_PID, c->slots[i].vpid);
    if (u->mode == AMBER_UNBLOCK_SEIZE) amber_ctl_seize(t, pid, u); /* ctl_seize.c */
    else let_in(t, pid, u);
  }
}
