/* The checkpoint signal handler: leader and followers (see agent.h). */
#include <signal.h>
#include <string.h>
#include <sys/uio.h>
#include <ucontext.h>

#include "../../common/errno_name.h"

#include "agent.h"
#include "agent_freeze_times.h"
#include "agent_share.h"
#include "agent_spin.h"
#include "agent_precopy.h"
#include "agent_track.h"
#include "../wrappers/cpu_clock.h"
#include "../fds/fd_locks.h"
#include "../wrappers/sysv.h"
#include "../kernel/raw_threads.h"

struct amber_ckpt amber_ckpt;
struct amber_restore_args amber_restore_args;

int amber_is_ckpt_signal(int sig) { return sig == AMBER_CKPT_SIGNAL; }

static struct amber_ctl *ctl(void) { return &amber.table->ctl; }

static struct amber_agent_slot *my_slot(void) {
  struct amber_ctl *c = ctl();
  for (uint32_t i = 0; i < c->nslots && i < AMBER_CTL_MAX_PROCS; i++)
    if (c->slots[i].vpid == amber.vpid) return &c->slots[i];
  return NULL;
}

struct amber_agent_slot *amber_agent_my_slot(void) { return my_slot(); }

static void report(struct amber_agent_slot *slot, int32_t state) {
  __atomic_store_n(&slot->state, state, __ATOMIC_RELEASE);
  __atomic_add_fetch(&ctl()->reports, 1, __ATOMIC_ACQ_REL);
  amber_futex_wake(&ctl()->reports, 1);
}

void amber_agent_report(struct amber_agent_slot *slot, int32_t state) { report(slot, state); }

static void fail(struct amber_agent_slot *slot, const char *why) {
  amber_fmt(slot->error, sizeof slot->error, "process %d: %s", amber.vpid, why);
  report(slot, AMBER_AGENT_FAILED);
}

/* Waits for the coordinator to move past `phase`; returns the new phase. A coordinator that
 * died mid-snapshot must not leave the program frozen: its death counts as an abort. */
static uint32_t wait_phase_change(uint32_t phase) {
  for (int spun = 0;;) {
    uint32_t gen = __atomic_load_n(&ctl()->generation, __ATOMIC_ACQUIRE);
    uint32_t now = __atomic_load_n(&ctl()->phase, __ATOMIC_ACQUIRE);
    if (now != phase) return now;
    int32_t coordinator = ctl()->coordinator;
    if (coordinator > 0 && amber_sys2(SYS_kill, coordinator, 0) == -ESRCH) {
      amber_log("the coordinator (pid %d) is gone: the snapshot is abandoned", coordinator);
      return AMBER_PHASE_ABORT;
    }
    if (!spun++ && amber_agent_spin(&ctl()->generation, gen)) continue;
    amber_futex_wait(&ctl()->generation, gen, 1, 500);
  }
}

int amber_agent_write_wanted(void) {
  uint32_t gen = __atomic_load_n(&ctl()->generation, __ATOMIC_ACQUIRE);
  if (__atomic_load_n(&ctl()->phase, __ATOMIC_ACQUIRE) != AMBER_PHASE_WRITE) return 0;
  int32_t coordinator = ctl()->coordinator;
  if (coordinator > 0 && amber_sys2(SYS_kill, coordinator, 0) == -ESRCH) return 0;
  amber_futex_wait(&ctl()->generation, gen, 1, 5);
  return __atomic_load_n(&ctl()->phase, __ATOMIC_ACQUIRE) == AMBER_PHASE_WRITE;
}

static int still_alive(const int32_t *tids, int n) {
  int alive = 0;
  for (int i = 0; i < n; i++) alive += amber_sys3(SYS_tgkill, amber_sys_getpid(), tids[i], 0) == 0;
  return alive;
}

static int came(int32_t tid) {
  for (int k = 1; k < amber_ckpt.nthreads; k++)
    if (amber_ckpt.threads[k].old_tid == tid) return 1;
  return 0;
}

/* A thread that never came: it blocks every signal with raw system calls (as Go's runtime
 * does in its signal-forwarding thread), and the coordinator could not let the signal in with
 * ptrace (agent_unblock.c): say which, and why. */
static void name_stuck_thread(const int32_t *tids, int n) {
  for (int i = 0; i < n; i++) {
    if (came(tids[i]) || amber_sys3(SYS_tgkill, amber_sys_getpid(), tids[i], 0) != 0) continue;
    char path[64], comm[32] = "";
    amber_fmt(path, sizeof path, "/proc/self/task/%d/comm", tids[i]);
    long len = amber_read_file(path, comm, sizeof comm);
    if (len > 0 && comm[len - 1] == '\n') comm[len - 1] = 0;
    int err = amber_unblock_failure(tids[i]);
    char wchan[64] = "";
    amber_fmt(path, sizeof path, "/proc/self/task/%d/stat", tids[i]);
    if (amber_proc_state(path) == 'D') {
      amber_fmt(path, sizeof path, "/proc/self/task/%d/wchan", tids[i]);
      long got = amber_read_file(path, wchan, sizeof wchan - 1);
      wchan[got > 0 ? got : 0] = 0;
      amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
                "its thread %d (%s) waits in the kernel and cannot be interrupted (%s), so "
                "neither a signal nor ptrace can stop it",
                tids[i], comm, wchan[0] && strcmp(wchan, "0") ? wchan : "uninterruptible sleep");
    } else if (err)
      amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
                "its thread %d (%s) blocks every signal, and the coordinator could not let "
                "Amber's signal in with ptrace (%s), so Amber cannot stop it",
                tids[i], comm, amber_errno_name(err));
    else
      amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
                "its thread %d (%s) blocks every signal, so Amber cannot stop it", tids[i], comm);
    return;
  }
  amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error, "one of its threads did not stop");
}

/* A thread that has exited but stays listed: the main thread after pthread_exit, a zombie
 * until the process ends. It takes no signal and holds nothing to save. */
static int zombie_thread(int32_t tid) {
  char path[64];
  amber_fmt(path, sizeof path, "/proc/self/task/%d/stat", tid);
  char state = amber_proc_state(path);
  return !state || state == 'Z' || state == 'X'; /* unreadable: gone meanwhile */
}

/* Brings every other thread of the process into the handler; 0, or -1 with the reason in
 * amber_ckpt.error. */
static int quiesce(int32_t self) {
  static int32_t signalled[AMBER_MAX_THREADS];
  int nsignalled = 0;
  static int32_t tids[AMBER_MAX_THREADS * 2];
  amber_unblock_begin();
  for (int round = 0; round < 100; round++) {
    int fresh = 0;
    int n = amber_list_numbers("/proc/self/task", tids, AMBER_MAX_THREADS * 2);
    for (int t = 0; t < n; t++) {
      int32_t tid = tids[t];
      if (tid == self) continue;
      int known = 0;
      for (int i = 0; i < nsignalled; i++) known |= signalled[i] == tid;
      if (known) continue;
      if (tid == amber_sys_getpid() && zombie_thread(tid)) {
        amber_ckpt.main_thread_gone = 1;
        continue;
      }
      if (nsignalled == AMBER_MAX_THREADS - 1) {
        amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
                  "it has more than %d threads, more than Amber can save", AMBER_MAX_THREADS);
        return -1;
      }
      if (amber_sys3(SYS_tgkill, amber_sys_getpid(), tid, AMBER_CKPT_SIGNAL) == 0) {
        signalled[nsignalled++] = tid;
        fresh++;
      }
    }
    if (!fresh && round > 0) break; /* nobody new since the last wait */
    /* Wait for everyone signalled so far (2 s at most: a thread holds the signal off only
     * for moments, as glibc does around a thread's creation); a thread that exited meanwhile
     * never arrives, and is no longer waited for. */
    for (int waited = 0; waited < 400; waited++) {
      uint32_t arrived = __atomic_load_n(&amber_ckpt.arrived, __ATOMIC_ACQUIRE);
      if ((int)arrived >= nsignalled) break;
      if (waited % 20 == 19 && (int)arrived >= still_alive(signalled, nsignalled)) break;
      /* A thread that blocks every signal it can is let in at once (after 5 ms); another held
       * off for 100 ms: not a moment's hold, as around a thread's creation; again after 1 s
       * for a thread that was in a wait no signal ends (posix_spawn's parent, until its child
       * execs), which no ptrace stop ends either. */
      if (waited == 1) amber_unblock_stragglers(signalled, nsignalled, came, 1);
      if (waited == 20 || waited == 200) amber_unblock_stragglers(signalled, nsignalled, came, 0);
      amber_futex_wait(&amber_ckpt.arrived, arrived, 0, 5);
    }
  }
  if ((int)__atomic_load_n(&amber_ckpt.arrived, __ATOMIC_ACQUIRE) <
      still_alive(signalled, nsignalled)) {
    name_stuck_thread(signalled, nsignalled);
    return -1;
  }
  return 0;
}

static void release_followers(void) {
  __atomic_store_n(&amber_ckpt.release, 1, __ATOMIC_RELEASE);
  amber_futex_wake(&amber_ckpt.release, 0);
  while (__atomic_load_n(&amber_ckpt.followers_inside, __ATOMIC_ACQUIRE))
    amber_futex_wait(&amber_ckpt.followers_inside,
                     __atomic_load_n(&amber_ckpt.followers_inside, __ATOMIC_ACQUIRE), 0, 5);
}

/* A follower resumed by the restorer in a new process: its own kernel state back. */
void amber_follower_restored(struct amber_thread_rec *rec) {
  /* Not before the leader has placed the process's descriptors: a file this thread opens (its
   * /proc/thread-self/stat) takes the lowest free number, one a descriptor is to have; the
   * leader's dup3 onto it then fails (EBUSY), or closes it under this thread, which would read
   * and close the descriptor put there. */
  for (int i = 0; i < 6000 && !__atomic_load_n(&amber_ckpt.fds_placed, __ATOMIC_ACQUIRE); i++)
    amber_futex_wait(&amber_ckpt.fds_placed, 0, 0, 5);
  amber_thread_after_restore(rec);
  amber_identity_thread_after_restore();
  amber_signals_put_thread(rec);
  __atomic_add_fetch(&amber_ckpt.restored_threads, 1, __ATOMIC_ACQ_REL);
  amber_futex_wake(&amber_ckpt.restored_threads, 0);
}

/* A follower waits for the leader to let it go, then says it left. */
void amber_follower_leave(void) {
  while (!__atomic_load_n(&amber_ckpt.release, __ATOMIC_ACQUIRE))
    amber_futex_wait(&amber_ckpt.release, 0, 0, 100);
  __atomic_sub_fetch(&amber_ckpt.followers_inside, 1, __ATOMIC_ACQ_REL);
  amber_futex_wake(&amber_ckpt.followers_inside, 0);
}

static void follower(void *uc) {
  __atomic_add_fetch(&amber_ckpt.followers_inside, 1, __ATOMIC_ACQ_REL);
  int index = __atomic_add_fetch(&amber_ckpt.nthreads, 1, __ATOMIC_ACQ_REL) - 1;
  struct amber_thread_rec *rec = &amber_ckpt.threads[index];
  memset(rec, 0, sizeof *rec);
  amber_unblock_restore_mask(uc);
  amber_thread_capture(rec, uc);
  amber_signals_take_thread(rec);
  amber_signals_put_thread(rec); /* the running program keeps them */
  if (amber_ctx_save(&rec->ctx) == 0) {
    __atomic_add_fetch(&amber_ckpt.arrived, 1, __ATOMIC_ACQ_REL);
    amber_futex_wake(&amber_ckpt.arrived, 0);
  } else {
    /* Resumed by the restorer in a new process. */
    amber_follower_restored(&amber_ckpt.threads[index]);
  }
  amber_follower_leave();
}

/* The environment's AMBER_APP_DIR names the old application: the new one is written over it
 * where it fits, so that an exec that passes `environ` as it is (glibc's own, in system() and
 * popen(), and the wrappers' too: core/env.c) stays in the application. Never a pointer of
 * Amber's in its place: the program owns the strings (bash frees them when it rebuilds its
 * environment). Written through process_vm_writev, which fails where a string is not writable
 * (a literal given to putenv) instead of faulting. A longer name does not fit: the exec wrappers
 * and system() and popen() give the new one all the same (core/env.c, wrap_fork.c). */
static void update_environment(void) {
  extern char **environ;
  char entry[sizeof amber.app_dir + 16];
  int len = amber_fmt(entry, sizeof entry, "AMBER_APP_DIR=%s", amber.app_dir);
  for (char **e = environ; e && *e; e++) {
    if (strncmp(*e, "AMBER_APP_DIR=", 14) || !strcmp(*e, entry)) continue;
    if (strlen(*e) < (size_t)len) {
      amber_log("restore: AMBER_APP_DIR in the environment is shorter than %s; left as it was",
                amber.app_dir);
      continue;
    }
    struct iovec local = {entry, (size_t)len + 1}, remote = {*e, (size_t)len + 1};
    amber_sys6(SYS_process_vm_writev, amber_sys_getpid(), (long)&local, 1, (long)&remote, 1, 0);
  }
}

/* After a restore: the leader puts the process's kernel state back, sharing with the other
 * restored processes through the broker what they shared before. */
static void leader_after_restore(struct amber_thread_rec *rec) {
  memcpy(amber.app_dir, amber_restore_args.app_dir, sizeof amber.app_dir);
  amber_table_fd_after_restore(amber_restore_args.tables_fd);
  update_environment();
  amber_process_after_restore();
  amber_track_forget(); /* agent_track.c: no registration came with the memory */
  amber_track_early();
  amber_precopy_forget();
  amber_thread_after_restore(rec);
  amber_signals_put_thread(rec);
  amber_signals_put_process();
  int err = amber_broker_open();
  if (err) amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error, "cannot reach the broker (%d)", -err);
  if (!err) err = amber_shared_memory_after_restore(0);
  if (!err) err = amber_fds_after_restore();
  if (!err) err = amber_shared_memory_after_restore(1);
  if (!err) err = amber_memory_state_after_restore();
  amber_sysv_undo_after_restore();
  amber_broker_drop_local(); /* closing a copy once a POSIX lock is back would drop the lock */
  err = amber_locks_after_restore(err); /* and waits for every other process's */
  amber_broker_close();
  amber_fds_release();
  /* Last: a close of any copy of a directory's description drops its notification. */
  if (!err) err = amber_dnotify_after_restore();
  __atomic_store_n(&amber_ckpt.fds_placed, 1, __ATOMIC_RELEASE); /* followers go on */
  amber_futex_wake(&amber_ckpt.fds_placed, 0);
  /* Followers leave the restorer's code as they resume; only then may it go. */
  for (int i = 0; i < 2000; i++) {
    uint32_t done = __atomic_load_n(&amber_ckpt.restored_threads, __ATOMIC_ACQUIRE);
    if ((int)done >= amber_ckpt.nthreads - 1) break;
    amber_futex_wait(&amber_ckpt.restored_threads, done, 0, 5);
  }
  amber_owned_locks_after_restore();
  amber_cpu_clocks_after_restore();
  if (!err) err = amber_timers_after_restore(); /* every thread has its new TID now */
  for (int i = 0; i < 2000 && __atomic_load_n(&amber_restore_args.main_tid, __ATOMIC_ACQUIRE); i++)
    amber_futex_wait((uint32_t *)&amber_restore_args.main_tid,
                     (uint32_t)__atomic_load_n(&amber_restore_args.main_tid, __ATOMIC_ACQUIRE), 0, 5);
  if (amber_restore_args.restorer_end > amber_restore_args.restorer_start)
    amber_sys2(SYS_munmap, amber_restore_args.restorer_start,
               amber_restore_args.restorer_end - amber_restore_args.restorer_start);
  amber_process_restore_exe();
  if (!err) err = amber_flags_after_restore();
  /* Last: limits and credentials may forbid what the restore itself needs. */
  amber_identity_after_restore();
  amber_identity_thread_after_restore();
  struct amber_agent_slot *slot = my_slot();
  if (!slot) return;
  if (!err) {
    if (amber_ckpt.stopped) __atomic_store_n(&slot->stopping, 1, __ATOMIC_RELEASE);
    report(slot, AMBER_AGENT_RESUMED);
    return;
  }
  /* Half a process must not run on: say why, and end it. */
  fail(slot, amber_ckpt.error);
  amber_log("restore failed: %s", amber_ckpt.error);
  amber_sys1(SYS_exit_group, 70);
}

/* A process that was stopped when the snapshot came (the coordinator woke it to take part) is
 * stopped again before any of its threads leaves the handler. */
static void stop_again(struct amber_agent_slot *slot, int sig) {
  amber_reports_settle(); /* a child's stop again is no new report */
  if (sig) amber_stop_self(sig, slot ? &slot->stopping : 0);
  if (slot) __atomic_store_n(&slot->stopping, 0, __ATOMIC_RELEASE);
}

static void leader(int32_t self, void *uc) {
  amber_freeze_times_start();
  amber_unblock_restore_mask(uc); /* let in by the coordinator: no thread could take it */
  struct amber_agent_slot *slot = my_slot();
  if (slot && __atomic_load_n(&slot->stopped, __ATOMIC_ACQUIRE))
    __atomic_store_n(&slot->stopping, 1, __ATOMIC_RELEASE); /* before any report */
  amber_ckpt.nthreads = 1;
  amber_ckpt.arrived = 0;
  amber_ckpt.release = 0;
  amber_ckpt.restored_threads = 0;
  amber_ckpt.fds_placed = 0;
  amber_ckpt.error[0] = 0;
  struct amber_thread_rec *rec = &amber_ckpt.threads[0];
  memset(rec, 0, sizeof *rec);
  rec->leader = 1;
  amber_ckpt.main_thread_gone = 0;
  amber_sched_begin(); /* before any other thread takes its part */
  amber_creds_begin();
  amber_identity_open_proc();
  int stopped = quiesce(self) == 0;
  amber_freeze_mark("quiesced");
  amber.checkpoints++;
  amber_child_rows_capture();
  amber_thread_capture(rec, uc);
  amber_signals_take_thread(rec);
  amber_signals_take_process();
  amber_signals_put_thread(rec);
  amber_signals_put_process();
  int lost = amber_process_capture();
  amber_flags_capture();
  /* The wait reports first: a failed snapshot wakes stopped children too (agent_reports.c). */
  if (!stopped || lost || amber_clone_share_capture() || amber_reports_capture() ||
      amber_identity_capture() || amber_timers_capture() || amber_owned_locks_capture() ||
      amber_fds_capture()) {
    fail(slot, amber_ckpt.error);
    wait_phase_change(AMBER_PHASE_FREEZE);
  } else {
    amber_freeze_mark("captured");
    report(slot, AMBER_AGENT_FROZEN);
    uint32_t phase = wait_phase_change(AMBER_PHASE_FREEZE);
    amber_freeze_mark("write");
    if (phase != AMBER_PHASE_WRITE) amber_fds_release();
    amber_ckpt.stopped = amber_reports_stop_signal(slot); /* for the image */
    if (phase == AMBER_PHASE_WRITE) {
      if (amber_fds_capture_frozen()) { /* every process is frozen now */
        fail(slot, amber_ckpt.error);
        wait_phase_change(AMBER_PHASE_WRITE);
        amber_fds_release();
      } else if (amber_ctx_save(&rec->ctx) == 0) {
        int err = amber_cow_write(ctl()->image_dir, slot); /* 1: its writer goes on */
        if (err < 0) fail(slot, amber_ckpt.error);
        else if (err == 0) report(slot, AMBER_AGENT_WRITTEN);
        amber_freeze_mark("reported");
        wait_phase_change(AMBER_PHASE_WRITE);
        amber_freeze_mark("resume");
        amber_fds_release();
      } else {
        /* The image's leader was the old thread: a signal let into this one before it leaves
         * the handler must find it the leader (checkpoint, below). */
        __atomic_store_n(&amber_ckpt.leader_tid, (int32_t)amber_sys_gettid(), __ATOMIC_RELEASE);
        leader_after_restore(&amber_ckpt.threads[0]);
        amber_wait_held();
        amber_identity_close_proc();
        stop_again(my_slot(), amber_ckpt.stopped); /* the new slot knows nothing of it */
        release_followers();
        return;
      }
    }
  }
  amber_identity_close_proc();
  stop_again(slot, slot ? amber_reports_stop_signal(slot) : 0);
  release_followers();
  amber_freeze_mark("released");
  amber_freeze_times_log();
}

static __attribute__((noinline)) void checkpoint(void *uc) {
  int saved_errno = errno;
  if (amber_cs_depth > 0) {
    amber_ckpt_deferred = 1; /* taken at the end of the critical section */
    errno = saved_errno;
    return;
  }
  amber_ckpt_deferred = 0;
  int32_t self = amber_sys_gettid();
  for (;;) {
    uint32_t phase = __atomic_load_n(&ctl()->phase, __ATOMIC_ACQUIRE);
    int32_t expected = 0;
    if (__atomic_compare_exchange_n(&amber_ckpt.leader_tid, &expected, self, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE)) {
      if (phase == AMBER_PHASE_FREEZE && my_slot()) leader(self, uc);
      __atomic_store_n(&amber_ckpt.leader_tid, 0, __ATOMIC_RELEASE);
      if (amber_ckpt_deferred) amber_deferred_checkpoint(); /* let in meanwhile (below) */
      break;
    }
    if (expected == self) {
      /* The next snapshot's signal, let into this thread by its coordinator (agent_unblock.c)
       * while it still leads the last one: stopped in it (stop_again) or not yet out. Taken
       * again once that one is over, with the program's registers, not the handler's. */
      amber_unblock_restore_mask(uc);
      amber_ckpt_deferred = 1;
      break;
    }
    /* A leader gathers its threads while `release` is 0. Once it is 1, the last checkpoint is
     * ending: this signal is the next snapshot's, taken by a thread already let go, which
     * waits to lead it rather than to follow a leader that is leaving. */
    if (!__atomic_load_n(&amber_ckpt.release, __ATOMIC_ACQUIRE)) {
      follower(uc);
      break;
    }
    amber_futex_wait(&amber_ckpt.release, 1, 0, 1);
  }
  errno = saved_errno;
}

/* A thread of a raw clone without a TLS of its own takes part on its own TLS
 * (raw_threads.c), captured and resumed there: nothing here touches TLS. */
static void on_ckpt_signal(int sig, siginfo_t *info, void *uc) {
  uint64_t fs = amber_raw_tls_enter();
  void *stack = amber_agent_stack(uc);
  if (stack) amber_call_on_stack(checkpoint, uc, stack);
  else checkpoint(uc);
  amber_raw_tls_leave(fs);
}

/* A thread that forks holds the checkpoint signal off, but another thread of its parent may be
 * leading a checkpoint meanwhile: the child's copy of this state names that leader, and the
 * child's next checkpoint signal would make it a follower of a leader it does not have, waiting
 * for ever with the signal blocked. The child has one thread and no checkpoint under way. */
void amber_ckpt_forget(void) {
  amber_ckpt.leader_tid = 0;
  amber_ckpt.release = 0;
  amber_ckpt.followers_inside = 0;
  amber_ckpt_deferred = 0;
}

void amber_deferred_checkpoint(void) {
  amber_ckpt_deferred = 0;
  amber_sys3(SYS_tgkill, amber_sys_getpid(), amber_sys_gettid(), AMBER_CKPT_SIGNAL);
}

void amber_agent_install(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_ckpt_signal;
  /* SA_ONSTACK: which stack the agent then runs on is agent_stack.c's choice. */
  sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
  sigfillset(&sa.sa_mask);
  REAL(sigaction)(AMBER_CKPT_SIGNAL, &sa, NULL);
}
