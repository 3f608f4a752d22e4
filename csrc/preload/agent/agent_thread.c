/* One thread's state that lives in the kernel or in glibc's thread descriptor, and does not
 * come back with memory alone: its TLS base, glibc's cached TID, the robust futex list, the
 * rseq area, the alternate signal stack and its name. */
#include <asm/prctl.h>
#include <pthread.h>
#include <sys/wait.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <ucontext.h>

#include "agent.h"
#include "../wrappers/cpu_clock.h"
#include "../kernel/raw_threads.h"

/* glibc exports where each thread's rseq area lies (2.35 and later). */
extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));
#define RSEQ_SIG 0x53053053

/* Offset of the cached TID in glibc's struct pthread, found once by looking for it. */
static long tid_offset = -1;

static void find_tid_offset(void) {
  int32_t tid = amber_sys_gettid();
  const int32_t *self = (const int32_t *)pthread_self();
  for (int i = 0; i < 512; i++)
    if (self[i] == tid) {
      tid_offset = i * 4;
      return;
    }
}

long amber_pthread_tid_offset(void) {
  if (tid_offset < 0) find_tid_offset();
  return tid_offset;
}

/* Is the thread about to restart a wait for a given pid? */
static void note_restart(struct amber_thread_rec *rec, ucontext_t *uc) {
  rec->uc = (uint64_t)uc;
  rec->restart_reg = -1;
  if (!uc) return;
  greg_t *g = uc->uc_mcontext.gregs;
  const uint16_t *ip = (const uint16_t *)g[REG_RIP];
  if (*ip != 0x050f) return; /* the kernel backs a restarted call up to its `syscall` */
  int reg = -1;
  if (g[REG_RAX] == SYS_wait4 && (int32_t)g[REG_RDI] != -1 && (int32_t)g[REG_RDI] != 0)
    reg = REG_RDI;
  else if (g[REG_RAX] == SYS_waitid && (g[REG_RDI] == P_PID || g[REG_RDI] == P_PGID))
    reg = REG_RSI;
  if (reg < 0) return;
  int32_t spid = (int32_t)g[reg];
  int32_t vpid = amber_s2v(amber.table, AMBER_KIND_PID, spid < 0 ? -spid : spid);
  if (vpid < 0) return;
  rec->restart_reg = reg;
  rec->restart_vpid = spid < 0 ? -vpid : vpid;
}

static void fix_restart(const struct amber_thread_rec *rec) {
  if (rec->restart_reg < 0 || !rec->uc) return;
  int32_t vpid = rec->restart_vpid < 0 ? -rec->restart_vpid : rec->restart_vpid;
  int32_t spid = amber_v2s(amber.table, AMBER_KIND_PID, vpid);
  if (spid < 0) return;
  ((ucontext_t *)rec->uc)->uc_mcontext.gregs[rec->restart_reg] =
      rec->restart_vpid < 0 ? -spid : spid;
}

void amber_thread_capture(struct amber_thread_rec *rec, void *uc) {
  note_restart(rec, uc);
  rec->old_tid = amber_sys_gettid();
  if (tid_offset < 0) find_tid_offset();
  amber_sys2(SYS_arch_prctl, ARCH_GET_FS, &rec->fs_base);
  rec->vtid = amber_vtid;
  rec->tid_addr = tid_offset >= 0 ? (uint64_t)pthread_self() + tid_offset : 0;
  amber_sys3(SYS_get_robust_list, 0, &rec->robust_head, &rec->robust_len);
  rec->rseq_addr = 0;
  if (&__rseq_size && &__rseq_offset && __rseq_size) {
    rec->rseq_addr = rec->fs_base + __rseq_offset;
    rec->rseq_len = __rseq_size < 32 ? 32 : __rseq_size;
    rec->rseq_sig = RSEQ_SIG;
  }
  stack_t ss;
  amber_sys2(SYS_sigaltstack, 0, &ss);
  rec->altstack_sp = (uint64_t)ss.ss_sp;
  rec->altstack_size = ss.ss_size;
  rec->altstack_flags = ss.ss_flags;
  amber_sys2(SYS_prctl, PR_GET_NAME, rec->comm);
  amber_flags_thread_capture(rec);
  amber_sched_thread_capture(rec, 0);
  amber_creds_thread_capture(rec, 0);
  amber_cpu_time_capture(rec);
  amber_raw_thread_capture(rec);
}

/* A thread the coordinator seized (agent_seize.c), recorded by the leader: what the thread
 * would read of itself, read from outside. glibc's thread descriptor is at its TLS base. */
void amber_thread_capture_seized(struct amber_thread_rec *rec, int32_t tid, uint64_t fs_base,
                                 void *uc) {
  note_restart(rec, uc);
  rec->old_tid = tid;
  rec->fs_base = fs_base;
  if (tid_offset < 0) find_tid_offset();
  rec->tid_addr = tid_offset >= 0 && fs_base ? fs_base + tid_offset : 0;
  int32_t vtid = amber_s2v(amber.table, AMBER_KIND_PID, tid);
  rec->vtid = vtid > 0 ? vtid : 0;
  amber_sys3(SYS_get_robust_list, tid, &rec->robust_head, &rec->robust_len);
  char path[64], comm[32] = "";
  amber_fmt(path, sizeof path, "/proc/self/task/%d/comm", tid);
  long len = amber_read_file(path, comm, sizeof comm - 1);
  for (long i = 0; i < len && i < (long)sizeof rec->comm - 1 && comm[i] != '\n'; i++)
    rec->comm[i] = comm[i];
  amber_flags_thread_capture(rec); /* the leader's; the thread's own, read from outside, replace them */
  amber_sched_thread_capture(rec, tid);
  amber_creds_thread_capture(rec, tid);
  amber_raw_thread_seized(rec);
}

void amber_thread_after_restore(struct amber_thread_rec *rec) {
  int32_t tid = amber_sys_gettid();
  rec->tid = tid;
  fix_restart(rec);
  if (rec->tid_addr) {
    amber_sys1(SYS_set_tid_address, rec->tid_addr);
    *(volatile int32_t *)rec->tid_addr = tid;
  }
  if (rec->robust_head) amber_sys2(SYS_set_robust_list, rec->robust_head, rec->robust_len);
  if (rec->rseq_addr) {
    /* The area still holds the old registration's CPU number; the kernel rewrites it. */
    amber_sys4(SYS_rseq, rec->rseq_addr, rec->rseq_len, 0, rec->rseq_sig);
  }
  if (!(rec->altstack_flags & SS_DISABLE) && rec->altstack_sp) {
    stack_t ss = {(void *)rec->altstack_sp, rec->altstack_flags & ~SS_ONSTACK,
                  rec->altstack_size};
    amber_sys2(SYS_sigaltstack, &ss, 0);
  }
  amber_sys2(SYS_prctl, PR_SET_NAME, rec->comm);
  amber_flags_thread_after_restore(rec);
  amber_cpu_time_after_restore(rec);
  amber_raw_thread_after_restore(rec);
  amber_flags_thread_tid_addr(rec); /* where the program moved it, if it did */
  if (rec->vtid > 0) {
    struct amber_row *row = amber_row_by_vid(amber.table, AMBER_KIND_PID, rec->vtid);
    if (row && (row->flags & AMBER_PID_THREAD)) __atomic_store_n(&row->sid, tid, __ATOMIC_RELEASE);
  }
}
