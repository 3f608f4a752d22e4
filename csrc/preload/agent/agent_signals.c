/* Signals pending when the snapshot lands (blocked by the program, or not yet delivered) are
 * part of its state. Each thread takes its own out of the kernel with rt_sigtimedwait, the
 * leader those of the whole process, and all are queued back at once, so the running program
 * is not disturbed; a restore queues them again in the new process, with the sender's pid
 * translated to its new system pid. The handler blocks every signal, so none is delivered
 * before the program's own mask is back. */
#include <signal.h>
#include <string.h>
#include <time.h>

#include "agent.h"

#define HELD ((1ULL << (SIGKILL - 1)) | (1ULL << (SIGSTOP - 1)) | (1ULL << (AMBER_CKPT_SIGNAL - 1)))

static struct amber_pending shared; /* the process's, saved with memory */

static uint64_t pending_mask(const char *field) {
  static char status[4096];
  if (amber_read_file("/proc/thread-self/status", status, sizeof status) <= 0) return 0;
  const char *p = strstr(status, field);
  if (!p) return 0;
  p += strlen(field);
  while (*p == ' ' || *p == '\t') p++;
  uint64_t mask = 0;
  amber_parse_u64(&p, &mask, 16);
  return mask & ~HELD;
}

/* Takes the signals of `field` (SigPnd: this thread's, ShdPnd: the process's) out. */
static void take(struct amber_pending *p, const char *field) {
  p->count = 0;
  for (int tries = 0; tries < 64 && p->count < AMBER_MAX_PENDING; tries++) {
    uint64_t mask = pending_mask(field);
    if (!mask) break;
    uint64_t set = mask & -mask; /* the lowest one */
    int sig = __builtin_ctzll(set) + 1;
    siginfo_t *info = (siginfo_t *)p->info[p->count];
    struct timespec now = {0, 0};
    if (amber_sys4(SYS_rt_sigtimedwait, &set, info, &now, 8) != sig) break;
    if (amber_siginfo_has_pid(sig, info->si_code)) {
      int32_t v = amber_s2v(amber.table, AMBER_KIND_PID, info->si_pid);
      info->si_pid = v > 0 ? v : 0;
    }
    p->count++;
  }
}

/* Queues them back: to this thread, or to the process. The kernel lets a process queue any
 * siginfo to itself, but to another thread only one it sends as itself: then plain tgkill. */
static void put(const struct amber_pending *p, int to_thread) {
  int32_t pid = amber_sys_getpid(), tid = amber_sys_gettid();
  for (int i = 0; i < p->count; i++) {
    siginfo_t info;
    memcpy(&info, p->info[i], sizeof info);
    int sig = info.si_signo;
    if (amber_siginfo_has_pid(sig, info.si_code)) {
      int32_t s = amber_v2s(amber.table, AMBER_KIND_PID, info.si_pid);
      info.si_pid = s > 0 ? s : 0;
    }
    long r = to_thread ? amber_sys4(SYS_rt_tgsigqueueinfo, pid, tid, sig, &info)
                       : amber_sys3(SYS_rt_sigqueueinfo, pid, sig, &info);
    if (r == -EPERM) amber_sys3(SYS_tgkill, pid, tid, sig);
  }
}

void amber_signals_take_thread(struct amber_thread_rec *rec) { take(&rec->pending, "SigPnd:"); }
void amber_signals_put_thread(const struct amber_thread_rec *rec) { put(&rec->pending, 1); }
void amber_signals_take_process(void) { take(&shared, "ShdPnd:"); }
void amber_signals_put_process(void) { put(&shared, 0); }
