/* The coordinator seizes a thread that holds the checkpoint signal off (it blocks every signal
 * with the raw system call, behind the library's back), when its agent asks (agent_seize.c):
 * it stops the thread with ptrace, reads its registers, FPU and AVX state, signal mask,
 * pending signals, rseq registration and alternate stack, writes them into the agent's
 * struct amber_seized (seized.h), and keeps the thread stopped until the snapshot ends
 * (amber_ctl_seize_release, from the phase change to RESUME or ABORT). No handler runs in it:
 * a call it was in is restarted as the kernel restarts one when no handler runs (the way
 * CRIU's compel does it: -ERESTARTSYS, -ERESTARTNOINTR and -ERESTARTNOHAND re-run the call,
 * -ERESTART_RESTARTBLOCK runs restart_syscall).
 *
 * ptrace requests come only from the tracer thread, and the snapshot's calls into this library
 * come from any of the caller's threads: one thread of this library does all of it, started
 * when a seize is asked for, ending once it holds no thread. */
#include <elf.h>
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "../common/seized.h"
#include "../common/sys.h"
#include "../common/table.h"
#include "control.h"

#define CKPT_SIGNAL 62 /* AMBER_CKPT_SIGNAL of the interposition library */
#define MAX_HELD 64
#define SYSCALL_INSN 0x050f

/* The kernel's restart codes (include/linux/errno.h), never seen by a program. */
#define ERESTARTSYS 512
#define ERESTARTNOINTR 513
#define ERESTARTNOHAND 514
#define ERESTART_RESTARTBLOCK 516

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static int running;
static struct request {
  const void *table;
  int32_t pid, tid;
  uint64_t addr;
  int err, done, let_in; /* let_in: it took the signal itself meanwhile */
  uint64_t mask;
} *asked;
/* Threads held, by application (its id: the same tables may be mapped more than once here). */
static const char *releasing; /* the application whose threads are let go */
static int releasing_stopped; /* ... and their processes stopped (SIGSTOP) first */
static struct held {
  char app_id[sizeof ((struct amber_table *)0)->app_id];
  int32_t pid, tid;
} held[MAX_HELD];
static int nheld;

/* The next stop of a tracee, 1 s at most (a thread in an uninterruptible sleep does not
 * stop until it wakes). */
static int wait_stop(int32_t tid, int *status) {
  for (int64_t end = amber_ctl_now_ms() + 1000;;) {
    int r = waitpid(tid, status, __WALL | WNOHANG);
    if (r == tid) return WIFSTOPPED(*status) ? 0 : -ESRCH;
    if (r < 0 && errno != EINTR) return -errno;
    if (amber_ctl_now_ms() >= end) return -ETIMEDOUT;
    usleep(1000);
  }
}

static int peek(int32_t pid, uint64_t addr, void *buf, size_t len) {
  struct iovec local = {buf, len}, remote = {(void *)addr, len};
  return process_vm_readv(pid, &local, 1, &remote, 1, 0) == (ssize_t)len ? 0 : -EFAULT;
}

static int poke(int32_t pid, uint64_t addr, const void *buf, size_t len) {
  struct iovec local = {(void *)buf, len}, remote = {(void *)addr, len};
  return process_vm_writev(pid, &local, 1, &remote, 1, 0) == (ssize_t)len ? 0 : -EFAULT;
}

static int get_regs(int32_t tid, struct user_regs_struct *regs) {
  struct iovec iov = {regs, sizeof *regs};
  return ptrace(PTRACE_GETREGSET, tid, NT_PRSTATUS, &iov) ? -errno : 0;
}

static int set_regs(int32_t tid, const struct user_regs_struct *regs) {
  struct iovec iov = {(void *)regs, sizeof *regs};
  return ptrace(PTRACE_SETREGSET, tid, NT_PRSTATUS, &iov) ? -errno : 0;
}

/* A call the thread was in, made to start again when it runs on: as the kernel does when no
 * handler runs. The stop's own restart step is then skipped (orig_rax -1). */
static void restart_call(struct user_regs_struct *r) {
  long ax = (long)r->rax;
  if ((long)r->orig_rax >= 0 && (ax == -ERESTARTSYS || ax == -ERESTARTNOINTR ||
                                 ax == -ERESTARTNOHAND || ax == -ERESTART_RESTARTBLOCK)) {
    r->rax = ax == -ERESTART_RESTARTBLOCK ? SYS_restart_syscall : r->orig_rax;
    r->rip -= 2;
  }
  r->orig_rax = (unsigned long long)-1;
}

/* A signal the thread took while it was made to call (a forced one: the seccomp layer's SIGSYS
 * for a call it trapped just before the stop), to be given to it. */
static int taken;

/* A system call made by the stopped thread at the library's `syscall` instruction, from one
 * syscall stop to the next: no signal is involved, unless one is taken meanwhile (`taken`,
 * -EINTR). The result, or -errno of ptrace. */
static long call_in(int32_t tid, const struct user_regs_struct *base, uint64_t gadget, long nr,
                    long a, long b, long c, long d) {
  struct user_regs_struct r = *base;
  r.rip = gadget;
  r.rax = nr;
  r.orig_rax = (unsigned long long)-1;
  r.rdi = a, r.rsi = b, r.rdx = c, r.r10 = d, r.r8 = 0; /* prctl wants its unused ones 0 */
  int err = set_regs(tid, &r);
  int status = 0;
  for (int stop = 0; stop < 2 && !err; stop++) { /* entry, then exit */
    if (ptrace(PTRACE_SYSCALL, tid, 0, 0)) err = -errno;
    if (!err) err = wait_stop(tid, &status);
    if (!err && WSTOPSIG(status) != (SIGTRAP | 0x80)) {
      taken = status >> 16 ? 0 : WSTOPSIG(status);
      err = taken ? -EINTR : -EPROTO;
    }
  }
  if (!err) err = get_regs(tid, &r);
  return err ? err : (long)r.rax;
}

/* Stops the thread, at an interrupt stop; a signal it takes meanwhile is given to it (-EAGAIN
 * for Amber's own: it let the signal in itself and runs the handler). */
static int stop_thread(struct request *q) {
  int status = 0, err = 0;
  for (int tries = 0; tries < 8; tries++) {
    if (ptrace(PTRACE_INTERRUPT, q->tid, 0, 0)) return -errno;
    if ((err = wait_stop(q->tid, &status))) return err;
    if (status >> 16 == PTRACE_EVENT_STOP) return 0;
    int sig = WSTOPSIG(status);
    if (sig == CKPT_SIGNAL) {
      ptrace(PTRACE_GETSIGMASK, q->tid, sizeof q->mask, &q->mask);
      q->let_in = 1;
      ptrace(PTRACE_DETACH, q->tid, 0, sig);
      return -EAGAIN;
    }
    if (ptrace(PTRACE_CONT, q->tid, 0, sig)) return -errno;
  }
  return -EBUSY;
}

/* The thread's own no_new_privs, personality and parent-death signal (prctl and personality(2)
 * are the calling thread's: asked in it), and its GS base (its registers'). */
static int read_flags(struct request *q, struct amber_seized *s, const struct user_regs_struct *at,
                      uint64_t scratch) {
  long nnp = call_in(q->tid, at, s->gadget, SYS_prctl, PR_GET_NO_NEW_PRIVS, 0, 0, 0);
  long per = call_in(q->tid, at, s->gadget, SYS_personality, 0xffffffffL, 0, 0, 0);
  long r = call_in(q->tid, at, s->gadget, SYS_prctl, PR_GET_PDEATHSIG, (long)scratch, 0, 0);
  int32_t sig = 0;
  if (!r && peek(q->pid, scratch, &sig, sizeof sig)) return -EFAULT;
  if (nnp < 0 || per < 0 || r) return (int)(nnp < 0 ? nnp : per < 0 ? per : r < 0 ? r : -EPROTO);
  s->nnp = (int32_t)nnp;
  s->personality = (int32_t)per;
  s->pdeathsig = sig;
  s->gs_base = at->gs_base;
  s->flags_read = 1;
  /* a kernel without CONFIG_CHECKPOINT_RESTORE has no PR_GET_TID_ADDRESS: then not known */
  uint64_t addr = 0;
  r = call_in(q->tid, at, s->gadget, SYS_prctl, PR_GET_TID_ADDRESS, (long)scratch, 0, 0);
  if (!r && !peek(q->pid, scratch, &addr, sizeof addr)) {
    s->tid_addr = addr;
    s->tid_addr_read = 1;
  }
  return 0;
}

/* Everything but the registers, read while stopped: takes Amber's signal off its queue, which
 * it holds off and would otherwise keep pending after the snapshot. */
static int read_state(struct request *q, struct amber_seized *s, const struct user_regs_struct *at) {
  uint16_t insn = 0;
  if (peek(q->pid, s->gadget, &insn, sizeof insn) || insn != SYSCALL_INSN) return -EFAULT;
  uint64_t scratch[8] = {1ULL << (CKPT_SIGNAL - 1), 0, 0};
  uint64_t base = q->addr + offsetof(struct amber_seized, scratch);
  if (poke(q->pid, base, scratch, sizeof scratch)) return -EFAULT;
  long r;
  int err;
  for (int i = 0; i < 64; i++) {
    r = call_in(q->tid, at, s->gadget, SYS_rt_sigtimedwait, base, 0, base + 8, 8);
    if (r != CKPT_SIGNAL) break;
  }
  if (r != -EAGAIN) return r < 0 && r > -4096 ? (int)r : -EPROTO;
  r = call_in(q->tid, at, s->gadget, SYS_sigaltstack, 0, base + 24, 0, 0);
  if (r) return r < 0 ? (int)r : -EPROTO;
  if (peek(q->pid, base + 24, scratch + 3, 24)) return -EFAULT;
  s->altstack_sp = scratch[3];
  s->altstack_flags = (int32_t)scratch[4];
  s->altstack_size = scratch[5];
  if ((err = read_flags(q, s, at, base + 24))) return err;
  if (ptrace(PTRACE_GETSIGMASK, q->tid, sizeof s->mask, &s->mask)) return -errno;
  struct iovec x = {s->xstate, sizeof s->xstate};
  if (ptrace(PTRACE_GETREGSET, q->tid, NT_X86_XSTATE, &x)) return -errno;
  s->xstate_len = (int32_t)x.iov_len;
  struct __ptrace_rseq_configuration rseq;
  memset(&rseq, 0, sizeof rseq);
  if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, q->tid, sizeof rseq, &rseq) > 0) {
    s->rseq_addr = rseq.rseq_abi_pointer;
    s->rseq_len = rseq.rseq_abi_size;
    s->rseq_sig = rseq.signature;
  }
  struct __ptrace_peeksiginfo_args args = {0, 0, AMBER_MAX_PENDING};
  long n = ptrace(PTRACE_PEEKSIGINFO, q->tid, &args, s->pending.info);
  s->pending.count = n > 0 ? (int32_t)n : 0;
  return 0;
}

static int seize(struct request *q) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/task/%d", q->pid, q->tid);
  if (q->pid <= 0 || q->tid <= 0 || access(path, F_OK)) return -ESRCH; /* not its thread */
  if (!amber_app_member(q->table, q->pid)) return -EPERM; /* the tables name another process */
  if (nheld == MAX_HELD) return -ENOSPC;
  static struct amber_seized s; /* this thread's alone */
  memset(&s, 0, sizeof s);
  if (peek(q->pid, q->addr, &s, offsetof(struct amber_seized, seized))) return -EFAULT;
  if (ptrace(PTRACE_SEIZE, q->tid, 0, PTRACE_O_TRACESYSGOOD)) return -errno;
  struct user_regs_struct raw, at;
  int err = -EBUSY;
  for (int tries = 0; tries < 8 && err == -EBUSY; tries++) {
    err = stop_thread(q);
    if (err == -EAGAIN) return 0;
    if (!err) err = get_regs(q->tid, &raw);
    if (err) break;
    s.orig_ax = raw.orig_rax;
    s.interrupted_ax = raw.rax;
    at = raw;
    restart_call(&at);
    s.regs = at;
    taken = 0;
    err = read_state(q, &s, &at);
    if (taken) { /* it runs its handler as it was about to, then is stopped again */
      err = set_regs(q->tid, &raw);
      if (!err && ptrace(PTRACE_CONT, q->tid, 0, taken)) err = -errno;
      if (!err) err = -EBUSY;
      continue;
    }
    int put = set_regs(q->tid, &at); /* as it was, its call to be restarted */
    if (!err) err = put;
  }
  s.seized = 1;
  size_t from = offsetof(struct amber_seized, seized);
  if (!err) err = poke(q->pid, q->addr + from, (char *)&s + from, sizeof s - from);
  if (err) {
    ptrace(PTRACE_DETACH, q->tid, 0, 0); /* fails if it never stopped: ends with this thread */
    return err;
  }
  struct held *h = &held[nheld++];
  memcpy(h->app_id, ((const struct amber_table *)q->table)->app_id, sizeof h->app_id);
  h->pid = q->pid;
  h->tid = q->tid;
  return 0;
}

/* Lets go of the threads of application `app_id` (none for NULL); reaps those killed meanwhile.
 * With `stopped`, each process is stopped first: its thread comes out of ptrace stopped with
 * it. */
static void let_go(const char *app_id, int stopped) {
  for (int i = 0; i < nheld;) {
    int status;
    int gone = waitpid(held[i].tid, &status, __WALL | WNOHANG) == held[i].tid &&
               (WIFEXITED(status) || WIFSIGNALED(status));
    if (!gone && (!app_id || strncmp(app_id, held[i].app_id, sizeof held[i].app_id))) {
      i++;
      continue;
    }
    if (!gone && stopped) kill(held[i].pid, SIGSTOP);
    if (!gone) ptrace(PTRACE_DETACH, held[i].tid, 0, 0);
    held[i] = held[--nheld];
  }
}

static void *seizer(void *arg) {
  pthread_mutex_lock(&lock);
  for (;;) {
    if (asked && !asked->done) {
      asked->err = seize(asked);
      asked->done = 1;
      pthread_cond_broadcast(&changed);
    }
    if (releasing) {
      let_go(releasing, releasing_stopped);
      releasing = NULL;
      pthread_cond_broadcast(&changed);
    }
    let_go(NULL, 0); /* only reaps */
    if (!nheld && !(asked && !asked->done)) break;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 50 * 1000000;
    if (until.tv_nsec >= 1000000000) until.tv_sec++, until.tv_nsec -= 1000000000;
    pthread_cond_timedwait(&changed, &lock, &until);
  }
  running = 0;
  pthread_cond_broadcast(&changed);
  pthread_mutex_unlock(&lock);
  return arg; /* exiting detaches whatever did not stop in time */
}

static void answer(struct amber_unblock *u, int err, uint64_t mask, int let_in) {
  u->err = -err;
  if (let_in) {
    u->mode = AMBER_UNBLOCK_LET_IN;
    u->mask = mask;
  }
  __atomic_store_n(&u->state, err ? AMBER_UNBLOCK_FAILED : AMBER_UNBLOCK_DONE, __ATOMIC_RELEASE);
  amber_sys6(SYS_futex, (long)&u->state, FUTEX_WAKE, 0x7fffffff, 0, 0, 0);
}

void amber_ctl_seize(struct amber_table *t, int32_t pid, struct amber_unblock *u) {
  struct request q = {t, pid, u->tid, u->mask, 0, 0, 0, 0};
  pthread_mutex_lock(&lock);
  while (asked) pthread_cond_wait(&changed, &lock);
  asked = &q;
  int err = 0;
  if (!running) {
    pthread_t thread;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    err = -pthread_create(&thread, &attr, seizer, NULL);
    pthread_attr_destroy(&attr);
    running = !err;
  } else {
    pthread_cond_broadcast(&changed);
  }
  while (!err && !q.done) pthread_cond_wait(&changed, &lock);
  asked = NULL;
  pthread_cond_broadcast(&changed);
  pthread_mutex_unlock(&lock);
  answer(u, err ? err : q.err, q.mask, q.let_in);
}

void amber_ctl_seize_release(const void *table, int stopped) {
  pthread_mutex_lock(&lock);
  if (running) {
    releasing = ((const struct amber_table *)table)->app_id;
    releasing_stopped = stopped;
    pthread_cond_broadcast(&changed);
    while (running && releasing) pthread_cond_wait(&changed, &lock);
  }
  pthread_mutex_unlock(&lock);
}
