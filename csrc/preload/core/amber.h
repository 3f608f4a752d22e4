/* The interposition library's state and the shape every wrapper follows:
 *   1. pass straight through when this process is not under Amber;
 *   2. enter a critical section, so that a checkpoint cannot land while tables are touched;
 *   3. translate virtual IDs in; 4. call the real function (outside the critical section when
 *   it may block); 5. translate system IDs out.
 * Internal functions return 0 or -errno; wrappers keep libc's contract (-1 and errno). */
#ifndef AMBER_PRELOAD_H
#define AMBER_PRELOAD_H

#include <errno.h>
#include <stdint.h>

#include "../../common/sys.h"
#include "../../common/table.h"
#include "symbols.h"

#define AMBER_EXPORT __attribute__((visibility("default")))

/* The signal that asks the in-process agent to take part in a checkpoint. */
#include "../../common/ckpt_signal.h"

struct amber_state {
  struct amber_table *table; /* NULL: not under Amber, every wrapper passes through */
  int32_t vpid;              /* this process's virtual pid */
  uint32_t checkpoints;      /* bumped at every checkpoint; wrappers retry an EINTR it caused */
  char app_dir[512];
  char lib_path[512];
};

extern struct amber_state amber;

/* Per-thread: critical-section depth, and a checkpoint deferred until the section ends. */
extern __thread int amber_cs_depth;
extern __thread volatile int amber_ckpt_deferred;
extern __thread int32_t amber_vtid;

static inline int amber_active(void) { return amber.table != 0; }

static inline void amber_enter(void) { amber_cs_depth++; }
void amber_deferred_checkpoint(void);
/* In a fork's child (agent.c): no checkpoint of the parent's is under way in it. */
void amber_ckpt_forget(void);
static inline void amber_leave(void) {
  if (--amber_cs_depth == 0 && amber_ckpt_deferred) amber_deferred_checkpoint();
}

/* The checkpoint signal is held back while a process cannot take part yet: a fork's child
 * before it has its own virtual pid, an exec'd program before the library has installed its
 * handler (the signal would kill it). The mask survives exec; the signal stays pending. */
static inline void amber_ckpt_hold(uint64_t *old) {
  uint64_t set = 1ULL << (AMBER_CKPT_SIGNAL - 1);
  amber_sys4(SYS_rt_sigprocmask, 0 /* SIG_BLOCK */, &set, old, 8);
}
static inline void amber_ckpt_release(const uint64_t *old) {
  amber_sys4(SYS_rt_sigprocmask, 2 /* SIG_SETMASK */, old, 0, 8);
}
static inline void amber_ckpt_unhold(void) {
  uint64_t set = 1ULL << (AMBER_CKPT_SIGNAL - 1);
  amber_sys4(SYS_rt_sigprocmask, 1 /* SIG_UNBLOCK */, &set, 0, 8);
}

/* Does this siginfo name a sending process in si_pid (kill, sigqueue, tgkill, a message
 * queue's notification, a child's news)? For timers and I/O the same bytes mean other things. */
static inline int amber_siginfo_has_pid(int sig, int code) {
  return code == 0 /* SI_USER */ || code == -1 /* SI_QUEUE */ || code == -6 /* SI_TKILL */ ||
         code == -3 /* SI_MESGQ */ || sig == 17 /* SIGCHLD */;
}

/* fds/dnotify_keep.c: directory notifications (F_NOTIFY) noted, dropped as their descriptors
 * close (first to last), none in a fork's child */
void amber_dnotify_note(int fd, unsigned long arg);
void amber_dnotify_closed(unsigned first, unsigned last);
void amber_dnotify_forget(void);
/* wrap_signalfd.c: a closed descriptor is no signalfd any more */
void amber_signalfd_forget(int fd);
/* a new signalfd (moved where the seccomp filter sees raw reads of it): its number */
int amber_signalfd_made(int fd, int flags);
/* r bytes read from fd into buf: a signalfd's ssi_pid made virtual (a fanotify group's pids) */
void amber_signalfd_read(int fd, void *buf, long r);
/* what a read of a descriptor is translated as; a new one of such a kind, moved into the window
 * of raw reads the seccomp filter traps */
enum { AMBER_READ_PLAIN, AMBER_READ_SIGNALFD, AMBER_READ_FANOTIFY };
int amber_read_fd_made(int fd, int cloexec, int kind);
/* wrap_fanotify.c: r bytes of events read from a fanotify group, their pids made virtual */
void amber_fanotify_read(void *buf, long r);
/* wrap_ptrace.c: ptrace as the raw call (syscall(), the kernel-side layer) */
long amber_ptrace_raw(const long a[6]);
/* trap_futex.c: a snapshot's check of the PI futexes the program's own code locked (0, or -1
 * with the agent's error: one is held) */
int amber_pi_futex_capture(void);
/* syscall_ipc.c: syscall() of SysV IPC, ptrace, prctl, fanotify_init and read (1 and *ret when
 * made) */
int amber_syscall_ipc(long nr, const long a[6], long *ret);
/* wrap_signal.c: a raw rt_sigaction's handler for the kernel (the trampoline that translates
 * si_pid, for an SA_SIGINFO handler), and the program's handler for one the kernel holds */
uint64_t amber_sigaction_wrap(int sig, uint64_t handler, uint64_t flags, uint64_t mask,
                              uint64_t *was);
uint64_t amber_sigaction_unwrap(int sig, uint64_t kernel_handler, uint64_t was);
uint64_t amber_sigaction_recorded(int sig);

/* init.c: one line into the application's log; signal-safe (amber_fmt's formats only) */
void amber_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* agent_util.c: amber_fmt (agent.h) over a va_list */
int amber_vfmt(char *buf, int cap, const char *fmt, __builtin_va_list ap);

/* pids.c: process and thread registration and translation */
int32_t amber_pid_adopt(int32_t sys_pid, int32_t sys_parent, int flags);
void amber_pid_release(int32_t sys_pid);
/* timer_create for SIGEV_THREAD (timer_thread.c); `create` is the real timer_create. */
int amber_timer_create_thread(clockid_t clock, const struct sigevent *ev, timer_t *timer,
                              int (*create)(clockid_t, struct sigevent *, timer_t *));
void amber_timer_thread_forget(timer_t timer); /* after timer_delete */
int32_t amber_pid_v2s(int32_t vpid); /* -1 when unknown */
int32_t amber_pid_s2v(int32_t spid); /* -1 when unknown */
int32_t amber_self_vtid(void);
void amber_after_fork_child(void);
/* Opens the agent's userfaultfd for dirty-page tracking and names it in the process's row, for
 * a pre-copy (agent_track.c). */
void amber_track_early(void);

/* pid_args.c: pid arguments in, pids out. amber_who_in: 0 (the caller) and negative values stay,
 * a positive one is translated or -ESRCH. amber_pid_in reads kill's way (< -1 is a group).
 * amber_who_out: virtual, or 0 for a process outside the application. */
int amber_who_in(int32_t vpid, int32_t *spid);
int amber_pid_in(int32_t vpid, int32_t *spid);
int32_t amber_who_out(int32_t spid);
const siginfo_t *amber_siginfo_in(const siginfo_t *info, siginfo_t *copy);
/* The body of a wrapper whose call names a process by `pid` (amber_who_in): the real `call`
 * uses `spid`. Both run in a critical section, so that no checkpoint (and restore, with new
 * system pids) falls between them. */
#define AMBER_WITH_PID(type, pid, call)                                                          \
  do {                                                                                           \
    int32_t spid;                                                                                \
    amber_enter();                                                                               \
    int err_ = amber_who_in((pid), &spid);                                                       \
    type r_ = err_ ? (errno = -err_, (type)-1) : (call);                                         \
    amber_leave();                                                                               \
    return r_;                                                                                   \
  } while (0)
/* wrap_pid.c: waitid's id in (-ECHILD when unknown), and the child it reports out */
int amber_waitid_in(int idtype, id_t *id);
void amber_waitid_out(siginfo_t *info, int options, uint32_t gen); /* gen: amber.checkpoints before */
/* child_rows.c: a reaped child's system pid out (its row released if `release`), also when a
 * checkpoint came after the wait that began at checkpoint count `gen` */
int32_t amber_reaped_out(int32_t spid, uint32_t gen, int release);
/* fcntl_owner.c: F_SETOWN, F_GETOWN, F_SETOWN_EX, F_GETOWN_EX, made through `real` */
int amber_fcntl_owner(int (*real)(int, int, ...), int fd, int cmd, void *arg);
/* wrap_ioctl.c: an ioctl that carries a pid, made through `real` */
int amber_ioctl_pid(int (*real)(int, unsigned long, ...), int fd, unsigned long req, void *arg);
int amber_ioctl_has_pid(unsigned long req);
/* wrap_creds.c: SCM_CREDENTIALS pids of a message made virtual in place, after recvmsg (a send
 * translates a copy: creds_copy.h). */
void amber_creds_out(struct msghdr *msg);
/* clone_pids.c: a cloned process's parent side (its virtual pid) and child side; a new process
 * through syscall() (1 and *ret when it made the call) */
int32_t amber_clone_parent(pid_t child, uint64_t flags, pid_t *ptid);
void amber_clone_child(uint64_t flags, pid_t *ctid);
int amber_syscall_clone(long nr, const long a[6], long *ret);
/* wrap_pidops.c: glibc exports capget and capset but declares them nowhere */
int capget(void *header, void *data);
int capset(void *header, const void *data);
/* syscall_pids.c: syscall() for the other calls that name a process (1 and *ret when made) */
int amber_syscall_pids(long nr, const long a[6], long *ret);

/* env.c: keeps the library and the application ID across exec */
char **amber_env_with_amber(char *const envp[], char **scratch, int cap);

/* table_fd.c: the tables through a descriptor inherited across exec, kept from the program */
extern int amber_table_fd;
struct amber_table *amber_table_fd_open(const char *path, int *err);
int amber_table_fd_is(int fd);
void amber_table_fd_evade(int fd); /* before the program dup2s onto this number */
int amber_table_fd_close_range(unsigned first, unsigned last, int flags);
extern int amber_track_fd; /* the dirty-page tracker's userfaultfd (agent_track.c), -1 if none */
int amber_table_fd_above(int lowfd); /* Amber has a descriptor at lowfd or above */
int amber_fd_place_high(int fd);     /* moves fd out of the program's way, close-on-exec */
void amber_table_fd_after_restore(int restorer_fd);

/* seccomp.c: the kernel-side layer. amber_raw_ids: inside a trapped raw call, whose pid
 * arguments may be system ids (amber_who_in lets them through). */
extern int amber_seccomp_layer;
extern __thread int amber_raw_ids;
/* trap_vfork.c: this is a raw vfork's child, on its parent's memory until it execs (its ids
 * are looked up by its system pid: amber.vpid is the parent's), and its exec's buffer */
extern __thread int amber_vfork_child;
/* trap_clone_vm.c: this process made a child that shares its memory (and so its amber.vpid) */
extern int amber_vm_shared;
char *amber_vfork_env_buffer(long bytes);
void amber_seccomp_early(void);
/* static_exec.c: whether an exec of `file` (searched in PATH if `search`) is refused: a static
 * program under the seccomp layer (said in the log) */
int amber_exec_refused(const char *file, int search);
void amber_seccomp_start(void);
/* seccomp.c: a signal mask as the program sees it (SIGSYS as it asked), and what it asked */
uint64_t amber_mask_view(uint64_t kernel);
void amber_mask_set(int how, uint64_t set);
/* A raw call's result (amber_sysN, which passes the filter) in libc's form: -1 and errno. */
static inline long amber_libc_ret(long r) {
  if (r < 0 && r > -4096) {
    errno = (int)-r;
    return -1;
  }
  return r;
}

/* agent: checkpoint */
void amber_agent_install(void);
int amber_is_ckpt_signal(int sig);

#endif
