/* The system calls Amber's seccomp filter looks at (seccomp_filter.h), in one list, and the value
 * that lets Amber's own calls of them through: every one takes at most five arguments, so the
 * sixth register (r9), which the kernel ignores for them, carries AMBER_SECCOMP_MAGIC. sys.h
 * puts it there for these numbers, so the library, the agent and the restorer pass unseen. */
#ifndef AMBER_SECCOMP_CALLS_H
#define AMBER_SECCOMP_CALLS_H

#include <sys/syscall.h>

#define AMBER_SECCOMP_MAGIC 0x416d6265725f7363L /* "Amber_sc" */
/* getpid with this in r9 fails with AMBER_SECCOMP_PROBE_ERRNO only under Amber's filter. */
#define AMBER_SECCOMP_PROBE 0x416d6265725f7072L /* "Amber_pr" */
#define AMBER_SECCOMP_PROBE_ERRNO 4042
/* SECCOMP_RET_DATA of Amber's traps: the SIGSYS's si_errno, so a program's own filter's SIGSYS
 * is told apart. */
#define AMBER_SECCOMP_TRAP_DATA 0x4142

/* How a call is trapped: ARGS (when argument a or b, -1 for none, is
 * in the virtual range, either sign), SIGACTION (sets an action, or reads SIGSYS's or the
 * checkpoint signal's), SIGMASK (every one: the mask the program reads back keeps a SIGSYS that
 * the kernel's does not have). ARGS6: as ARGS, for a call that uses its sixth register; Amber's
 * own calls of it carry no magic but system pids, which the filter lets through. OWN (the calls
 * that return ids): every one made from the program's own code, below AMBER_SECCOMP_LIBS_FROM
 * (its executable, Go's runtime, a static part), none from a shared library: libc's calls come
 * through the library's wrappers, which translate them already, or are glibc's own, which use
 * system ids. PATH: as OWN, a call whose argument a is a path
 * (/proc/<virtual pid>/...). CLONE: as OWN, unless it gives a TLS (CLONE_SETTLS: pthread's): a
 * new process (trap_clone.c, trap_vfork.c, trap_clone_vm.c) or a thread without a TLS of its own
 * (trap_clone_thread.c), which the handler makes on the caller's behalf. CPUCLOCK: as OWN, a clock call whose argument a is a CPU clock (CLOCK_PROCESS_CPUTIME_ID,
 * CLOCK_THREAD_CPUTIME_ID, or a negative ID from clock_getcpuclockid), whose time goes on across
 * a restore by a shift the library adds (wrap_cpu_clock.c); realtime and monotonic pass. */
#define AMBER_SECCOMP_LIBS_FROM 0x700000000000ULL
enum {
  AMBER_TRAP_ARGS,
  AMBER_TRAP_SIGACTION,
  AMBER_TRAP_SIGMASK,
  AMBER_TRAP_ARGS6,
  AMBER_TRAP_OWN,
  AMBER_TRAP_PATH,
  AMBER_TRAP_CLONE,
  AMBER_TRAP_CPUCLOCK,
  AMBER_TRAP_FD,
  AMBER_TRAP_CMD,
  AMBER_TRAP_FUTEX,
  AMBER_TRAP_SOCKOPT
};

/* SOCKOPT: setsockopt, from anywhere but Amber (the magic), of SOL_SOCKET's SO_PASSCRED: the
 * handler makes it and stacks the second filter (seccomp_creds.h), once per process, which
 * traps the program's own sendmsg, recvmsg, sendmmsg and recvmmsg (their SCM_CREDENTIALS pids,
 * kernel/trap_creds.c); and of the multicast options of IPPROTO_IP and IPPROTO_IPV6
 * (memberships, sources, the multicast interface; IPv6 anycast ones), which the handler makes
 * and notes
 * (preload/wrappers/mcast_note.c; libc's go through the wrapper, past the filter). Every other
 * setsockopt passes in the kernel: SOL_SOCKET's after two compares, as before, IPPROTO_TCP's
 * after three, IPPROTO_IPV6's after at most eight. */
#define AMBER_SOL_SOCKET 1
#define AMBER_SO_PASSCRED 16
#define AMBER_SOL_IP 0
#define AMBER_IP_MCAST_FIRST 32 /* IP_MULTICAST_IF ... */
#define AMBER_IP_MCAST_LAST 49  /* ... IP_MULTICAST_ALL, MCAST_* among them */
#define AMBER_SOL_IPV6 41
#define AMBER_MCAST_FIRST 42 /* MCAST_JOIN_GROUP ... */
#define AMBER_MCAST_LAST 48  /* ... MCAST_MSFILTER */
#define AMBER_IPV6_ANYCAST_FIRST 27 /* IPV6_JOIN_ANYCAST, IPV6_LEAVE_ANYCAST, ... */
#define AMBER_IPV6_ANYCAST_LAST 29  /* ... IPV6_MULTICAST_ALL */
#define AMBER_IPV6_MCAST_FIRST 17 /* IPV6_MULTICAST_IF ... */
#define AMBER_IPV6_MCAST_LAST 21  /* ... IPV6_DROP_MEMBERSHIP */

/* Whether the filter traps setsockopt(level, name) as a multicast option (the ranges above):
 * libc's go past it from the library's wrapper instead. */
static inline int amber_seccomp_mcast_sockopt(int level, int name) {
  if (level == AMBER_SOL_IP) return name >= AMBER_IP_MCAST_FIRST && name <= AMBER_IP_MCAST_LAST;
  return level == AMBER_SOL_IPV6 &&
         ((name >= AMBER_MCAST_FIRST && name <= AMBER_MCAST_LAST) ||
          (name >= AMBER_IPV6_ANYCAST_FIRST && name <= AMBER_IPV6_ANYCAST_LAST) ||
          (name >= AMBER_IPV6_MCAST_FIRST && name <= AMBER_IPV6_MCAST_LAST));
}

/* CMD: as OWN, and only when argument a is one of the commands of the call that name a process
 * (amber_seccomp_cmds): fcntl's and ioctl's owner of SIGIO and SIGURG, getsockopt's peer
 * credentials. Every other command, the hot ones among them, passes in the kernel. */
static inline int amber_seccomp_cmds(long nr, const unsigned **cmds) {
  static const unsigned fcntl_cmds[] = {8 /* F_SETOWN */, 9 /* F_GETOWN */,
                                        15 /* F_SETOWN_EX */, 16 /* F_GETOWN_EX */};
  static const unsigned ioctl_cmds[] = {0x8901 /* FIOSETOWN */, 0x8902 /* SIOCSPGRP */,
                                        0x8903 /* FIOGETOWN */, 0x8904 /* SIOCGPGRP */,
                                        0x540f /* TIOCGPGRP */, 0x5410 /* TIOCSPGRP */,
                                        0x5429 /* TIOCGSID */};
  static const unsigned sockopt_cmds[] = {17 /* SO_PEERCRED (SOL_SOCKET's; any level traps) */};
  switch (nr) {
  case SYS_fcntl: *cmds = fcntl_cmds; return 4;
  case SYS_ioctl: *cmds = ioctl_cmds; return 7;
  case SYS_getsockopt: *cmds = sockopt_cmds; return 1;
  }
  return 0;
}

/* FUTEX: a PI operation (FUTEX_LOCK_PI, UNLOCK_PI, TRYLOCK_PI, WAIT_REQUEUE_PI, CMP_REQUEUE_PI,
 * LOCK_PI2: their word names its owner by TID) from the program's own code; every other futex
 * call passes after three instructions. Not watched: futex takes six arguments, and Amber makes
 * no PI call of its own (kernel/trap_futex.c). */

/* FD: as OWN, and only when the descriptor (argument a) is in the window where the library puts
 * signalfds (wrap_signalfd.c): a raw read of one gets ssi_pid translated, every other raw read
 * passes in the kernel. The window sits below the tables' descriptor (table_fd.c, 24 below a
 * limit of 1024) and inside select()'s FD_SETSIZE. */
#define AMBER_SIGNALFD_FD_MIN 896
#define AMBER_SIGNALFD_FDS 64

/* The calls that name a SysV IPC object (whose IDs are virtual: every one from the program's own
 * code), a traced process (ptrace's pid; prctl's is PR_SET_PTRACER's only, seccomp_filter.h) and
 * fanotify_init (its group moves into the window of raw reads, as a signalfd does). */
#define AMBER_SECCOMP_IPC_CALLS(X)                                                              \
  X(SYS_semget, AMBER_TRAP_OWN, -1, -1)                                                         \
  X(SYS_semop, AMBER_TRAP_OWN, -1, -1)                                                          \
  X(SYS_semtimedop, AMBER_TRAP_OWN, -1, -1)                                                     \
  X(SYS_semctl, AMBER_TRAP_OWN, -1, -1)                                                         \
  X(SYS_shmget, AMBER_TRAP_OWN, -1, -1)                                                         \
  X(SYS_shmat, AMBER_TRAP_OWN, -1, -1)                                                          \
  X(SYS_shmdt, AMBER_TRAP_OWN, -1, -1)                                                          \
  X(SYS_shmctl, AMBER_TRAP_OWN, -1, -1)                                                         \
  X(SYS_msgget, AMBER_TRAP_OWN, -1, -1)                                                         \
  X(SYS_msgsnd, AMBER_TRAP_OWN, -1, -1)                                                         \
  X(SYS_msgrcv, AMBER_TRAP_OWN, -1, -1)                                                         \
  X(SYS_msgctl, AMBER_TRAP_OWN, -1, -1)                                                         \
  X(SYS_ptrace, AMBER_TRAP_ARGS, 1, -1)                                                         \
  X(SYS_prctl, AMBER_TRAP_ARGS, 1, -1)                                                          \
  X(SYS_fanotify_init, AMBER_TRAP_OWN, -1, -1)                                                  \
  X(SYS_futex, AMBER_TRAP_FUTEX, 1, -1)

#define AMBER_SECCOMP_CALLS(X)                                                                  \
  X(SYS_read, AMBER_TRAP_FD, 0, -1) /* first: the hottest watched call */                       \
  X(SYS_getpid, AMBER_TRAP_OWN, -1, -1)                                                         \
  X(SYS_getppid, AMBER_TRAP_OWN, -1, -1)                                                        \
  X(SYS_gettid, AMBER_TRAP_OWN, -1, -1)                                                         \
  X(SYS_getpgrp, AMBER_TRAP_OWN, -1, -1)                                                        \
  X(SYS_getpgid, AMBER_TRAP_OWN, -1, -1)                                                        \
  X(SYS_getsid, AMBER_TRAP_OWN, -1, -1)                                                         \
  X(SYS_setsid, AMBER_TRAP_OWN, -1, -1)                                                         \
  X(SYS_wait4, AMBER_TRAP_OWN, -1, -1)                                                          \
  X(SYS_waitid, AMBER_TRAP_OWN, -1, -1)                                                         \
  X(SYS_kill, AMBER_TRAP_ARGS, 0, -1)                                                           \
  X(SYS_tkill, AMBER_TRAP_ARGS, 0, -1)                                                          \
  X(SYS_tgkill, AMBER_TRAP_ARGS, 0, 1)                                                          \
  X(SYS_rt_sigqueueinfo, AMBER_TRAP_ARGS, 0, -1)                                                \
  X(SYS_rt_tgsigqueueinfo, AMBER_TRAP_ARGS, 0, 1)                                               \
  X(SYS_setpgid, AMBER_TRAP_ARGS, 0, 1)                                                         \
  X(SYS_sched_setaffinity, AMBER_TRAP_ARGS, 0, -1)                                              \
  X(SYS_sched_getaffinity, AMBER_TRAP_ARGS, 0, -1)                                              \
  X(SYS_sched_setparam, AMBER_TRAP_ARGS, 0, -1)                                                 \
  X(SYS_sched_getparam, AMBER_TRAP_ARGS, 0, -1)                                                 \
  X(SYS_sched_setscheduler, AMBER_TRAP_ARGS, 0, -1)                                             \
  X(SYS_sched_getscheduler, AMBER_TRAP_ARGS, 0, -1)                                             \
  X(SYS_sched_setattr, AMBER_TRAP_ARGS, 0, -1)                                                  \
  X(SYS_sched_getattr, AMBER_TRAP_ARGS, 0, -1)                                                  \
  X(SYS_sched_rr_get_interval, AMBER_TRAP_ARGS, 0, -1)                                          \
  X(SYS_prlimit64, AMBER_TRAP_ARGS, 0, -1)                                                      \
  X(SYS_getpriority, AMBER_TRAP_ARGS, 1, -1)                                                    \
  X(SYS_setpriority, AMBER_TRAP_ARGS, 1, -1)                                                    \
  X(SYS_ioprio_get, AMBER_TRAP_ARGS, 1, -1)                                                     \
  X(SYS_ioprio_set, AMBER_TRAP_ARGS, 1, -1)                                                     \
  X(SYS_pidfd_open, AMBER_TRAP_ARGS, 0, -1)                                                     \
  X(SYS_get_robust_list, AMBER_TRAP_ARGS, 0, -1)                                                \
  X(SYS_kcmp, AMBER_TRAP_ARGS, 0, 1)                                                            \
  X(SYS_rt_sigaction, AMBER_TRAP_SIGACTION, -1, -1)                                             \
  X(SYS_rt_sigprocmask, AMBER_TRAP_SIGMASK, -1, -1)                                             \
  X(SYS_fork, AMBER_TRAP_OWN, -1, -1)                                                           \
  X(SYS_vfork, AMBER_TRAP_OWN, -1, -1)                                                          \
  X(SYS_clone, AMBER_TRAP_CLONE, -1, -1)                                                        \
  X(SYS_clone3, AMBER_TRAP_OWN, -1, -1)                                                         \
  X(SYS_rt_sigtimedwait, AMBER_TRAP_OWN, -1, -1)                                                \
  X(SYS_execve, AMBER_TRAP_OWN, -1, -1)                                                         \
  X(SYS_migrate_pages, AMBER_TRAP_ARGS, 0, -1)                                                  \
  X(SYS_perf_event_open, AMBER_TRAP_ARGS, 1, -1)                                                \
  X(SYS_process_vm_readv, AMBER_TRAP_ARGS6, 0, -1)                                              \
  X(SYS_process_vm_writev, AMBER_TRAP_ARGS6, 0, -1)                                             \
  X(SYS_move_pages, AMBER_TRAP_ARGS6, 0, -1)                                                    \
  X(SYS_open, AMBER_TRAP_PATH, 0, -1)                                                           \
  X(SYS_openat, AMBER_TRAP_PATH, 1, -1)                                                         \
  X(SYS_openat2, AMBER_TRAP_PATH, 1, -1)                                                        \
  X(SYS_stat, AMBER_TRAP_PATH, 0, -1)                                                           \
  X(SYS_lstat, AMBER_TRAP_PATH, 0, -1)                                                          \
  X(SYS_newfstatat, AMBER_TRAP_PATH, 1, -1)                                                     \
  X(SYS_statx, AMBER_TRAP_PATH, 1, -1)                                                          \
  X(SYS_readlink, AMBER_TRAP_PATH, 0, -1)                                                       \
  X(SYS_readlinkat, AMBER_TRAP_PATH, 1, -1)                                                     \
  X(SYS_access, AMBER_TRAP_PATH, 0, -1)                                                         \
  X(SYS_faccessat, AMBER_TRAP_PATH, 1, -1)                                                      \
  X(SYS_faccessat2, AMBER_TRAP_PATH, 1, -1)                                                     \
  X(SYS_clock_gettime, AMBER_TRAP_CPUCLOCK, 0, -1)                                              \
  X(SYS_clock_getres, AMBER_TRAP_CPUCLOCK, 0, -1)                                               \
  X(SYS_clock_nanosleep, AMBER_TRAP_CPUCLOCK, 0, -1)                                            \
  X(SYS_signalfd, AMBER_TRAP_OWN, -1, -1)                                                       \
  X(SYS_signalfd4, AMBER_TRAP_OWN, -1, -1)                                                      \
  X(SYS_fcntl, AMBER_TRAP_CMD, 1, -1)                                                           \
  X(SYS_ioctl, AMBER_TRAP_CMD, 1, -1)                                                           \
  X(SYS_getsockopt, AMBER_TRAP_CMD, 2, -1)                                                      \
  X(SYS_capget, AMBER_TRAP_OWN, -1, -1)                                                         \
  X(SYS_capset, AMBER_TRAP_OWN, -1, -1)                                                         \
  X(SYS_timer_create, AMBER_TRAP_OWN, -1, -1)                                                  \
  AMBER_SECCOMP_IPC_CALLS(X)                                                                    \
  X(SYS_setsockopt, AMBER_TRAP_SOCKOPT, 1, 2)                                                    \
  X(SYS_set_tid_address, AMBER_TRAP_OWN, -1, -1) /* returns the caller's tid */             \
  AMBER_SECCOMP_SEND_CALLS(X)

/* Every sendmsg and sendmmsg from the program's own code (its SCM_CREDENTIALS may name its
 * virtual pid, which the kernel refuses: godbus's D-Bus authentication does, without
 * SO_PASSCRED; kernel/trap_creds.c), and getrusage and times (the CPU times they give go on
 * across a restore by the library's shift, wrap_process_times.c). */
#define AMBER_SECCOMP_SEND_CALLS(X)                                                             \
  X(SYS_sendmsg, AMBER_TRAP_OWN, -1, -1)                                                        \
  X(SYS_sendmmsg, AMBER_TRAP_OWN, -1, -1)                                                       \
  X(SYS_getrusage, AMBER_TRAP_OWN, -1, -1)                                                      \
  X(SYS_times, AMBER_TRAP_OWN, -1, -1)

/* The calls the second filter (seccomp_creds.h) traps from the program's own code, once the
 * process has turned SO_PASSCRED on: their control messages may carry SCM_CREDENTIALS. */
static inline int amber_seccomp_creds_call(long nr) {
  return nr == SYS_sendmsg || nr == SYS_recvmsg || nr == SYS_sendmmsg || nr == SYS_recvmmsg;
}

/* Does nr pass the filters with the magic (one of them, not ARGS6; the second filter's too)?
 * Folded at compile time for a constant nr. */
static inline int amber_seccomp_watched(long nr) {
  if (amber_seccomp_creds_call(nr)) return 1;
  switch (nr) {
#define AMBER_SECCOMP_CASE(nr, kind, a, b)                                                       \
  case nr: return kind != AMBER_TRAP_ARGS6 && kind != AMBER_TRAP_FUTEX;
    AMBER_SECCOMP_CALLS(AMBER_SECCOMP_CASE)
#undef AMBER_SECCOMP_CASE
  }
  return 0;
}

/* A call trapped only from the program's own code (OWN)? */
static inline int amber_seccomp_own(long nr) {
  switch (nr) {
#define AMBER_SECCOMP_CASE(nr, kind, a, b)                                                       \
  case nr: return kind == AMBER_TRAP_OWN;
    AMBER_SECCOMP_CALLS(AMBER_SECCOMP_CASE)
#undef AMBER_SECCOMP_CASE
  }
  return 0;
}

/* A PATH call's path argument, -1 for any other call. */
static inline int amber_seccomp_path_arg(long nr) {
  switch (nr) {
#define AMBER_SECCOMP_CASE(nr, kind, a, b)                                                       \
  case nr: return kind == AMBER_TRAP_PATH ? a : -1;
    AMBER_SECCOMP_CALLS(AMBER_SECCOMP_CASE)
#undef AMBER_SECCOMP_CASE
  }
  return -1;
}

#endif
