/* The in-process checkpoint agent. The coordinator signals every process of the application;
 * in each, the thread that takes the signal leads: it brings every other thread into the
 * agent's handler, where each saves its registers, then it saves the process's state and
 * writes the process file. A restored process resumes every thread at the point where it
 * saved its registers, inside this handler; the handler then puts back what lives in the
 * kernel (descriptors, dispositions, timers...) and returns, and the kernel's sigreturn puts
 * back the exact registers, FPU state and signal mask of the moment the signal landed.
 * See docs/snapshot-protocol.md. */
#ifndef AMBER_AGENT_H
#define AMBER_AGENT_H

#include <stdint.h>

#include "../core/util.h"
#include "../../common/image.h"
#include "../../common/image_check.h"
#include "../core/amber.h"

#define AMBER_MAX_THREADS 256
/* As many descriptors as an image's process file may hold: a server with hundreds of clients
 * has more than the 512 this once was. Only the records used are touched (and saved). */
#define AMBER_MAX_FDS AMBER_IMAGE_MAX_FDS

/* Everything a checkpoint of this process keeps in the library's memory. */
struct amber_ckpt {
  int32_t leader_tid;         /* 0: no checkpoint in progress */
  uint32_t arrived;           /* futex: followers that saved their registers */
  uint32_t release;           /* futex: 0 while followers must wait */
  uint32_t followers_inside;  /* followers not yet returned from the handler */
  uint32_t restored_threads;  /* followers done with their own restore */
  uint32_t fds_placed;        /* futex: after a restore, 1 once the leader placed descriptors */
  int32_t nthreads;           /* leader + followers */
  struct amber_thread_rec threads[AMBER_MAX_THREADS];
  /* process state, captured while frozen and put back after a restore */
  struct amber_ksigaction sigactions[65];
  uint64_t itimers[3][4]; /* struct itimerval for REAL, VIRTUAL, PROF */
  uint32_t umask;
  int32_t nfds, nepoll;
  char cwd[1024];
  char exe[1024]; /* /proc/self/exe, pointed back at the program after a restore */
  struct amber_fd_rec fds[AMBER_MAX_FDS];
  struct amber_epoll_rec epoll[AMBER_EPOLL_MAX];
  void *fd_buffer;            /* unread pipe and socket bytes: a mapping saved with memory */
  uint64_t fd_buffer_size, fd_buffer_used;
  char error[AMBER_CTL_ERROR];
  int32_t stopped; /* the signal that had stopped it when frozen (0: none): it stops again */
  int32_t main_thread_gone; /* its main thread had called pthread_exit (a zombie thread) */
};

extern struct amber_ckpt amber_ckpt;
extern struct amber_restore_args amber_restore_args;

int amber_ctx_save(struct amber_ctx *ctx) __attribute__((returns_twice));
/* The stack the checkpoint handler should move to, or 0 to stay (agent_stack.c), and the move. */
void *amber_agent_stack(const void *uc);
void amber_call_on_stack(void (*fn)(void *), void *arg, void *top);

/* agent_thread.c: one thread's kernel-side state */
void amber_thread_capture(struct amber_thread_rec *rec, void *uc);
void amber_thread_after_restore(struct amber_thread_rec *rec);
/* owned_locks.c: locks that name their owner by TID follow the thread to its new one */
int amber_owned_locks_capture(void);
void amber_child_rows_capture(void); /* child_rows.c */
void amber_owned_locks_after_restore(void);

/* agent_signals.c: pending signals, taken out while frozen and queued back (after a restore,
 * in the new process); a thread's own first, then the leader takes the process's */
void amber_signals_take_thread(struct amber_thread_rec *rec);
void amber_signals_put_thread(const struct amber_thread_rec *rec);
void amber_signals_take_process(void);
void amber_signals_put_process(void);

/* agent_timers.c: POSIX timers, made again under their IDs once every thread has its TID */
int amber_timers_capture(void); /* 0, or -1 with amber_ckpt.error */
int amber_timers_after_restore(void);

/* agent_identity.c: credentials, limits, priority, affinity; refuses what cannot be saved */
int amber_identity_capture(void); /* 0, or -1 with amber_ckpt.error */
int32_t amber_identity_seccomp(void); /* AMBER_SECCOMP_* of the last capture */
void amber_identity_open_proc(void);  /* dumpable for the snapshot's reading of /proc/self */
void amber_identity_close_proc(void); /* as it was */
void amber_identity_after_restore(void);
void amber_identity_thread_after_restore(void); /* in every thread */
/* agent_caps.c: the capability sets, bounding and ambient sets and securebits */
void amber_caps_capture(void);
void amber_caps_thread_after_restore(void); /* in every thread, after its change of user */
/* fds/dnotify_keep.c: directory notifications, checked while frozen, registered again */
int amber_dnotify_capture(void); /* 0, or -1 with amber_ckpt.error */
int amber_dnotify_after_restore(void);
/* agent_sched.c: each thread's scheduling policy, nice value, I/O priority and CPU affinity */
void amber_sched_begin(void); /* by the leader, first */
void amber_sched_thread_capture(const struct amber_thread_rec *rec, int32_t tid); /* 0: its own */
int amber_sched_check(void); /* 0, or -1 with amber_ckpt.error */
void amber_sched_thread_after_restore(void); /* in every thread, before its change of user */
/* agent_thread_creds.c: a thread's own users, groups (real, effective, saved, file system) and
 * capability sets (inheritable, permitted, effective); groups: its Groups line's hash */
struct amber_thread_creds {
  uint32_t uid[4], gid[4];
  uint64_t caps[3], groups;
};
void amber_creds_begin(void); /* by the leader, first */
void amber_creds_thread_capture(const struct amber_thread_rec *rec, int32_t tid); /* 0: its own */
int amber_creds_check(void); /* 0, or -1 with amber_ckpt.error */
const struct amber_thread_creds *amber_creds_mine(int *is_own);
void amber_caps_thread_own(const uint64_t sets[3]); /* agent_caps.c */

/* agent_flags.c: oom_score_adj (the process's), no_new_privs, personality and the parent-death
 * signal (each thread's) */
void amber_flags_capture(void);
int amber_flags_after_restore(void); /* 0, or -1 with amber_ckpt.error */
void amber_flags_thread_capture(const struct amber_thread_rec *rec);
void amber_flags_thread_after_restore(const struct amber_thread_rec *rec);
void amber_flags_thread_pdeathsig(void); /* the calling thread's, once it has its credentials */
/* a seized thread's own, read from outside (ctl_seize.c), in place of the leader's */
void amber_flags_thread_seized(const struct amber_thread_rec *rec, int32_t nnp,
                               int32_t personality, int32_t pdeathsig, uint64_t gs_base);
void amber_flags_thread_seized_tid_addr(const struct amber_thread_rec *rec, int32_t read,
                                        uint64_t addr);
void amber_flags_thread_tid_addr(const struct amber_thread_rec *rec); /* clear_child_tid back */

/* agent_reports.c: wait reports the program had not collected from its children */
int amber_reports_capture(void); /* 0, or -1 with amber_ckpt.error */
void amber_reports_settle(void); /* collects the stop reports the program had collected */
extern int32_t amber_reports_continued[AMBER_MAX_CONTINUED];
extern int amber_reports_ncontinued;
int amber_list_children(int32_t *out, int cap); /* system pids; -1 when more than cap */
struct amber_agent_slot;
/* The signal that had stopped this process when the coordinator woke it, or 0 if it was not */
int amber_reports_stop_signal(struct amber_agent_slot *slot);
/* agent_stop.c: stops this process by that signal again (SIGSTOP where it would not stop) */
void amber_stop_self(int sig, int32_t *sent); /* *sent = 0 once the stop signal is sent */
/* agent_stop.c: the signal this process last stopped itself by (after a restore); 0: none. */
extern int amber_self_stop_signal;

/* agent_clone_share.c: a descriptor table shared with the parent or a child (CLONE_FILES),
 * refused before any descriptor is looked at */
int amber_clone_share_capture(void); /* 0, or -1 with amber_ckpt.error */

/* agent_process.c: the process's kernel-side state other than descriptors */
int amber_process_capture(void); /* 0, or -1 with amber_ckpt.error (a cwd deleted or too long) */
void amber_process_after_restore(void);
void amber_itimers_after_restore(void); /* agent_itimers.c: setitimer's, as getitimer read them */
void amber_process_restore_exe(void); /* once the restorer is unmapped */

/* agent_fds.c: descriptors; capture returns 0 or -1 with amber_ckpt.error naming the one
 * that Amber cannot save */
int amber_fds_capture(void);
int amber_fds_capture_frozen(void); /* once every process is frozen; finds what is shared */
int amber_fds_after_restore(void);
void amber_fds_release(void);

/* agent.c: while the process file is written, whether the coordinator still wants it (the
 * phase is still WRITE and the coordinator alive); waits a few ms first */
int amber_agent_write_wanted(void);

/* agent_memory.c: writes process-<vpid>.img into dir; 0 or -errno with amber_ckpt.error */
int amber_write_process_file(const char *dir);
/* Writes it, or for a copy-on-write snapshot has a copy of the process write it (agent_cow.c):
 * 1 if the copy goes on (the slot says CAPTURED), 0 if written, -1 on failure (the reason in
 * amber_ckpt.error). */
struct amber_agent_slot;
int amber_cow_write(const char *dir, struct amber_agent_slot *slot);
void amber_agent_report(struct amber_agent_slot *slot, int32_t state);
void amber_mm_fields(struct amber_proc_header *h); /* the kernel's memory layout, auxv */
/* After a restore, shared memory is shared again: phase 0 the owned, phase 1 the others. */
int amber_shared_memory_after_restore(int phase);
/* After a restore, what the process asked of its memory as a whole (PR_SET_THP_DISABLE). */
int amber_memory_state_after_restore(void);

/* agent.c: a follower's part after a restore, and its wait to be let go */
void amber_follower_restored(struct amber_thread_rec *rec);
void amber_follower_leave(void);

/* agent.c: this process's slot in the control block, or NULL */
struct amber_agent_slot *amber_agent_my_slot(void);

/* agent_unblock.c: threads that hold the checkpoint signal off, let in by the coordinator */
void amber_unblock_begin(void); /* the leader, as a checkpoint starts */
/* The leader: asks for those of `tids` that did not come (`came`) and hold the signal off. */
void amber_unblock_stragglers(const int32_t *tids, int n, int (*came)(int32_t tid), int all);
int amber_unblock_failure(int32_t tid); /* why that thread could not be let in (errno), or 0 */
void amber_unblock_restore_mask(void *uc); /* a follower let in: its own mask, in its frame */

/* agent_seize.c: threads that hold the signal off, seized and kept stopped by the coordinator
 * (ctl_seize.c), recorded with a signal frame of their registers for a restore */
struct amber_seized;
void amber_seize_begin(void);                /* the leader, as a checkpoint starts */
struct amber_seized *amber_seize_offer(void); /* a slot for the coordinator to fill, or NULL */
int amber_seize_take(struct amber_seized *s, int32_t tid); /* 1: it is one of the threads now */
/* agent_thread.c: the record of a seized thread, read from outside */
void amber_thread_capture_seized(struct amber_thread_rec *rec, int32_t tid, uint64_t fs_base,
                                 void *uc);

void amber_wait_held(void); /* agent_hold.c: a migration's target holds its copy */

#endif
