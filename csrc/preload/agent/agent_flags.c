/* Flags the kernel keeps for a process or a thread that a restored process would otherwise take
 * from the restorer: the OOM killer's adjustment and the child subreaper bit (the process's:
 * an init such as tini or dumb-init reaps the orphans of its tree; without it they went to
 * Amber's supervisor after a restore), and the no_new_privs bit, the
 * personality, the parent-death signal (each thread's: prctl and personality(2) change only
 * the calling thread) and the GS base (each thread's; glibc leaves it 0, a runtime may use it).
 * And each thread's clear_child_tid, the word the kernel clears and wakes when the thread ends:
 * glibc's thread descriptor's tid, which amber_thread_after_restore sets, unless the program
 * moved it with set_tid_address (raw, or through syscall()); it holds no tid to translate. */
#include <fcntl.h>
#include <sys/prctl.h>

#include "agent.h"

#define PERSONALITY_QUERY 0xffffffffL
#define ARCH_SET_GS 0x1001
#define ARCH_GET_GS 0x1004

static int32_t oom_adj, subreaper;
static int have_oom;
static struct {
  int32_t nnp, personality, pdeathsig;
  uint64_t gs_base;
  int32_t tid_addr_read; /* PR_GET_TID_ADDRESS answered (CONFIG_CHECKPOINT_RESTORE) */
  uint64_t tid_addr;
} flags[AMBER_MAX_THREADS]; /* by index in amber_ckpt.threads; saved with memory */

static int index_of(const struct amber_thread_rec *rec) {
  long i = rec - amber_ckpt.threads;
  return i >= 0 && i < AMBER_MAX_THREADS ? (int)i : -1;
}

void amber_flags_thread_capture(const struct amber_thread_rec *rec) {
  int i = index_of(rec);
  if (i < 0) return;
  flags[i].nnp = (int32_t)amber_sys2(SYS_prctl, PR_GET_NO_NEW_PRIVS, 0);
  flags[i].personality = (int32_t)amber_sys1(SYS_personality, PERSONALITY_QUERY);
  flags[i].pdeathsig = 0;
  amber_sys2(SYS_prctl, PR_GET_PDEATHSIG, &flags[i].pdeathsig);
  flags[i].gs_base = 0;
  amber_sys2(SYS_arch_prctl, ARCH_GET_GS, &flags[i].gs_base);
  flags[i].tid_addr_read = amber_sys2(SYS_prctl, PR_GET_TID_ADDRESS, &flags[i].tid_addr) == 0;
}

void amber_flags_thread_seized_tid_addr(const struct amber_thread_rec *rec, int32_t read,
                                        uint64_t addr) {
  int i = index_of(rec);
  if (i < 0) return;
  flags[i].tid_addr_read = read;
  flags[i].tid_addr = addr;
}

/* Last after a restore (amber_thread_after_restore and a raw thread's own set theirs first). */
void amber_flags_thread_tid_addr(const struct amber_thread_rec *rec) {
  int i = index_of(rec);
  if (i >= 0 && flags[i].tid_addr_read) amber_sys1(SYS_set_tid_address, flags[i].tid_addr);
}

void amber_flags_thread_seized(const struct amber_thread_rec *rec, int32_t nnp,
                               int32_t personality, int32_t pdeathsig, uint64_t gs_base) {
  int i = index_of(rec);
  if (i < 0) return;
  flags[i].nnp = nnp;
  flags[i].personality = personality;
  flags[i].pdeathsig = pdeathsig;
  flags[i].gs_base = gs_base;
}

/* Both may be set by anyone: no_new_privs can only be turned on, which the restored thread
 * (fresh from the restorer, without it) allows. */
void amber_flags_thread_after_restore(const struct amber_thread_rec *rec) {
  int i = index_of(rec);
  if (i < 0) return;
  if (flags[i].personality >= 0 &&
      amber_sys1(SYS_personality, PERSONALITY_QUERY) != flags[i].personality)
    amber_sys1(SYS_personality, (uint32_t)flags[i].personality);
  if (flags[i].nnp == 1) amber_sys5(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  if (flags[i].gs_base) amber_sys2(SYS_arch_prctl, ARCH_SET_GS, flags[i].gs_base);
}

/* After the thread's change of user, which clears it (amber_thread_after_restore noted its TID). */
void amber_flags_thread_pdeathsig(void) {
  int32_t tid = amber_sys_gettid();
  for (int i = 0; i < amber_ckpt.nthreads && i < AMBER_MAX_THREADS; i++)
    if (amber_ckpt.threads[i].tid == tid)
      amber_sys2(SYS_prctl, PR_SET_PDEATHSIG, flags[i].pdeathsig);
}

/* 0, or -1 when it cannot be read. */
static int read_oom_adj(int32_t *out) {
  char text[32];
  if (amber_read_file("/proc/self/oom_score_adj", text, sizeof text) <= 0) return -1;
  const char *p = text;
  int negative = *p == '-';
  uint64_t v = 0;
  p += negative;
  if (amber_parse_u64(&p, &v, 10) || v > 1000) return -1;
  *out = negative ? -(int32_t)v : (int32_t)v;
  return 0;
}

void amber_flags_capture(void) {
  have_oom = read_oom_adj(&oom_adj) == 0;
  subreaper = 0;
  amber_sys2(SYS_prctl, PR_GET_CHILD_SUBREAPER, &subreaper);
}

/* Lowering the adjustment needs CAP_SYS_RESOURCE, which a restore by an unprivileged user
 * lacks: that restore fails, naming it, rather than leaving it higher. */
int amber_flags_after_restore(void) {
  if (subreaper) amber_sys2(SYS_prctl, PR_SET_CHILD_SUBREAPER, 1);
  int32_t now;
  if (!have_oom || (read_oom_adj(&now) == 0 && now == oom_adj)) return 0;
  /* A process that took another user's credentials is not dumpable, and its /proc files are
   * root's: dumpable until amber_identity_close_proc puts the flag back. */
  amber_sys2(SYS_prctl, PR_SET_DUMPABLE, 1);
  char text[32];
  int len = amber_fmt(text, sizeof text, "%d", oom_adj);
  long fd = amber_sys3(SYS_openat, AT_FDCWD, "/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  long err = fd < 0 ? fd : amber_sys3(SYS_write, fd, text, len);
  if (fd >= 0) amber_sys1(SYS_close, fd);
  if (err >= 0) return 0;
  char what[96];
  amber_fmt(what, sizeof what, "cannot set its oom_score_adj back to %d", oom_adj);
  amber_fmt_error(amber_ckpt.error, sizeof amber_ckpt.error, what, err);
  return -1;
}
