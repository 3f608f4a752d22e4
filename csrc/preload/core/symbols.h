/* Every libc symbol that Amber interposes, in one list. Each entry becomes a pointer to the
 * real function, resolved once with dlsym(RTLD_NEXT) (real.c); no dlsym anywhere else. */
#ifndef AMBER_SYMBOLS_H
#define AMBER_SYMBOLS_H

#include <dirent.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/fanotify.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/times.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>

#define AMBER_SYMBOLS(X)                                                                         \
  /* processes and threads: wrap_pid.c */                                                       \
  X(pid_t, getpid, (void))                                                                       \
  X(pid_t, getppid, (void))                                                                      \
  X(pid_t, gettid, (void))                                                                       \
  X(int, kill, (pid_t, int))                                                                     \
  X(int, tgkill, (pid_t, pid_t, int))                                                            \
  X(int, sigqueue, (pid_t, int, const union sigval))                                             \
  X(pid_t, waitpid, (pid_t, int *, int))                                                         \
  X(pid_t, wait, (int *))                                                                        \
  X(pid_t, wait3, (int *, int, struct rusage *))                                                 \
  X(pid_t, wait4, (pid_t, int *, int, struct rusage *))                                          \
  X(int, waitid, (idtype_t, id_t, siginfo_t *, int))                                             \
  X(pid_t, getpgid, (pid_t))                                                                     \
  X(int, setpgid, (pid_t, pid_t))                                                                \
  X(pid_t, getpgrp, (void))                                                                      \
  X(pid_t, getsid, (pid_t))                                                                      \
  X(pid_t, setsid, (void))                                                                       \
  X(long, syscall, (long, ...))                                                                  \
  /* more pid calls: wrap_sched.c, wrap_pidops.c, wrap_fcntl.c, wrap_ioctl.c, wrap_creds.c */    \
  X(int, getpriority, (__priority_which_t, id_t))                                                \
  X(int, setpriority, (__priority_which_t, id_t, int))                                           \
  X(int, sched_setscheduler, (pid_t, int, const struct sched_param *))                           \
  X(int, sched_getscheduler, (pid_t))                                                            \
  X(int, sched_setparam, (pid_t, const struct sched_param *))                                    \
  X(int, sched_getparam, (pid_t, struct sched_param *))                                          \
  X(int, sched_setaffinity, (pid_t, size_t, const cpu_set_t *))                                  \
  X(int, sched_getaffinity, (pid_t, size_t, cpu_set_t *))                                        \
  X(int, sched_rr_get_interval, (pid_t, struct timespec *))                                      \
  X(int, prlimit, (pid_t, __rlimit_resource_t, const struct rlimit *, struct rlimit *))          \
  X(int, prlimit64, (pid_t, __rlimit_resource_t, const struct rlimit64 *, struct rlimit64 *))    \
  X(int, capget, (void *, void *))                                                               \
  X(int, capset, (void *, const void *))                                                         \
  X(int, pidfd_open, (pid_t, unsigned int))                                                      \
  X(int, pidfd_send_signal, (int, int, siginfo_t *, unsigned int))                               \
  X(ssize_t, process_vm_readv,                                                                   \
    (pid_t, const struct iovec *, unsigned long,                                                 \
     const struct iovec *, unsigned long, unsigned long))                                        \
  X(ssize_t, process_vm_writev,                                                                  \
    (pid_t, const struct iovec *, unsigned long,                                                 \
     const struct iovec *, unsigned long, unsigned long))                                        \
  X(pid_t, tcgetpgrp, (int))                                                                     \
  X(int, tcsetpgrp, (int, pid_t))                                                                \
  X(pid_t, tcgetsid, (int))                                                                      \
  X(int, ioctl, (int, unsigned long, ...))                                                       \
  X(int, fcntl, (int, int, ...))                                                                 \
  X(int, fcntl64, (int, int, ...))                                                               \
  X(int, getsockopt, (int, int, int, void *, socklen_t *))                                       \
  X(int, setsockopt, (int, int, int, const void *, socklen_t))                                   \
  X(int, setsourcefilter, (int, uint32_t, const struct sockaddr *, socklen_t, uint32_t, uint32_t,  \
                           const struct sockaddr_storage *))                                     \
  X(int, setipv4sourcefilter, (int, struct in_addr, struct in_addr, uint32_t, uint32_t,          \
                               const struct in_addr *))                                          \
  X(int, sendmmsg, (int, struct mmsghdr *, unsigned int, int))                                   \
  X(int, recvmmsg, (int, struct mmsghdr *, unsigned int, int, struct timespec *))                \
  /* fork, exec and spawn: all in wrap_fork.c */                                                \
  X(pid_t, fork, (void))                                                                         \
  X(pid_t, vfork, (void))                                                                        \
  X(int, clone, (int (*)(void *), void *, int, void *, ...))                                     \
  X(int, system, (const char *))                                                                 \
  X(FILE *, popen, (const char *, const char *))                                                 \
  X(int, execve, (const char *, char *const[], char *const[]))                                   \
  X(int, execvpe, (const char *, char *const[], char *const[]))                                  \
  X(int, execv, (const char *, char *const[]))                                                   \
  X(int, execvp, (const char *, char *const[]))                                                  \
  X(int, execl, (const char *, const char *, ...))                                               \
  X(int, execlp, (const char *, const char *, ...))                                              \
  X(int, execle, (const char *, const char *, ...))                                              \
  X(int, fexecve, (int, char *const[], char *const[]))                                           \
  X(int, posix_spawn, (pid_t *, const char *, const posix_spawn_file_actions_t *,                 \
                       const posix_spawnattr_t *, char *const[], char *const[]))                 \
  X(int, posix_spawnp, (pid_t *, const char *, const posix_spawn_file_actions_t *,                \
                        const posix_spawnattr_t *, char *const[], char *const[]))                \
  /* /proc/<pid> paths: wrap_proc.c */                                                          \
  X(int, open, (const char *, int, ...))                                                         \
  X(int, open64, (const char *, int, ...))                                                       \
  X(int, openat, (int, const char *, int, ...))                                                  \
  X(int, openat64, (int, const char *, int, ...))                                                \
  X(FILE *, fopen, (const char *, const char *))                                                 \
  X(FILE *, fopen64, (const char *, const char *))                                               \
  X(DIR *, opendir, (const char *))                                                              \
  X(DIR *, fdopendir, (int))                                                                     \
  X(struct dirent *, readdir, (DIR *))                                                           \
  X(struct dirent64 *, readdir64, (DIR *))                                                       \
  X(int, closedir, (DIR *))                                                                      \
  X(ssize_t, readlink, (const char *, char *, size_t))                                           \
  X(int, access, (const char *, int))                                                            \
  X(int, stat, (const char *, struct stat *))                                                    \
  X(int, lstat, (const char *, struct stat *))                                                   \
  X(int, stat64, (const char *, struct stat64 *))                                                \
  X(int, lstat64, (const char *, struct stat64 *))                                               \
  X(int, fstatat, (int, const char *, struct stat *, int))                                       \
  X(int, fstatat64, (int, const char *, struct stat64 *, int))                                   \
  X(int, statx, (int, const char *, int, unsigned int, struct statx *))                          \
  X(int, faccessat, (int, const char *, int, int))                                               \
  X(ssize_t, readlinkat, (int, const char *, char *, size_t))                                    \
  X(int, chdir, (const char *))                                                                  \
  /* hostname: wrap_host.c */                                                                   \
  X(int, uname, (struct utsname *))                                                              \
  X(int, gethostname, (char *, size_t))                                                          \
  /* SysV IPC: wrap_sysv.c */                                                                   \
  X(int, semget, (key_t, int, int))                                                              \
  X(int, semop, (int, struct sembuf *, size_t))                                                  \
  X(int, semtimedop, (int, struct sembuf *, size_t, const struct timespec *))                    \
  X(int, semctl, (int, int, int, ...))                                                           \
  X(int, shmget, (key_t, size_t, int))                                                           \
  X(void *, shmat, (int, const void *, int))                                                     \
  X(int, shmdt, (const void *))                                                                  \
  X(int, shmctl, (int, int, struct shmid_ds *))                                                  \
  X(int, msgget, (key_t, int))                                                                   \
  X(int, msgsnd, (int, const void *, size_t, int))                                               \
  X(ssize_t, msgrcv, (int, void *, size_t, long, int))                                           \
  X(int, msgctl, (int, int, struct msqid_ds *))                                                  \
  /* signals and sleeps around a checkpoint: wrap_signal.c, wrap_sleep.c */                     \
  X(int, sigaction, (int, const struct sigaction *, struct sigaction *))                         \
  X(__sighandler_t, signal, (int, __sighandler_t))                                               \
  X(int, sigprocmask, (int, const sigset_t *, sigset_t *))                                       \
  X(int, signalfd, (int, const sigset_t *, int))                                                 \
  X(int, fanotify_init, (unsigned int, unsigned int))                                            \
  X(ssize_t, read, (int, void *, size_t))                                                        \
  X(int, dup2, (int, int))                                                                       \
  X(int, dup3, (int, int, int))                                                                  \
  X(int, close_range, (unsigned int, unsigned int, int))                                         \
  X(void, closefrom, (int))                                                                      \
  X(int, timer_create, (clockid_t, struct sigevent *, timer_t *))                                \
  X(int, timer_delete, (timer_t))                                                                \
  X(int, pthread_sigmask, (int, const sigset_t *, sigset_t *))                                   \
  X(int, nanosleep, (const struct timespec *, struct timespec *))                                \
  X(int, clock_nanosleep, (clockid_t, int, const struct timespec *, struct timespec *))          \
  X(unsigned, sleep, (unsigned))                                                                 \
  X(int, usleep, (useconds_t))                                                                   \
  X(int, epoll_wait, (int, struct epoll_event *, int, int))                                      \
  X(int, epoll_pwait, (int, struct epoll_event *, int, int, const sigset_t *))                   \
  X(int, poll, (struct pollfd *, nfds_t, int))                                                   \
  X(int, ppoll, (struct pollfd *, nfds_t, const struct timespec *, const sigset_t *))            \
  X(int, pselect, (int, fd_set *, fd_set *, fd_set *, const struct timespec *, const sigset_t *)) \
  X(int, pause, (void))                                                                          \
  X(int, sigsuspend, (const sigset_t *))                                                         \
  X(int, sigwaitinfo, (const sigset_t *, siginfo_t *))                                           \
  X(int, sigtimedwait, (const sigset_t *, siginfo_t *, const struct timespec *))                 \
  X(int, select, (int, fd_set *, fd_set *, fd_set *, struct timeval *))                         \
  /* addresses in a virtual network environment: wrap_net.c */                                \
  X(int, bind, (int, const struct sockaddr *, socklen_t))                                        \
  X(int, connect, (int, const struct sockaddr *, socklen_t))                                     \
  X(int, accept, (int, struct sockaddr *, socklen_t *))                                          \
  X(int, accept4, (int, struct sockaddr *, socklen_t *, int))                                    \
  X(int, getpeername, (int, struct sockaddr *, socklen_t *))                                     \
  X(int, getsockname, (int, struct sockaddr *, socklen_t *))                                     \
  X(ssize_t, sendto, (int, const void *, size_t, int, const struct sockaddr *, socklen_t))       \
  X(ssize_t, recvfrom, (int, void *, size_t, int, struct sockaddr *, socklen_t *))               \
  X(ssize_t, sendmsg, (int, const struct msghdr *, int))                                         \
  X(ssize_t, recvmsg, (int, struct msghdr *, int))                                               \
  X(int, close, (int))                                                                           \
  X(int, getaddrinfo, (const char *, const char *, const struct addrinfo *, struct addrinfo **)) \
  X(struct hostent *, gethostbyname, (const char *))                                             \
  X(int, daemon, (int, int))                                                                     \
  /* locks that name their owner by thread ID: owned_locks.c */                               \
  X(int, pthread_mutex_lock, (pthread_mutex_t *))                                                \
  X(int, pthread_mutex_trylock, (pthread_mutex_t *))                                             \
  X(int, pthread_mutex_timedlock, (pthread_mutex_t *, const struct timespec *))                  \
  X(int, pthread_mutex_clocklock, (pthread_mutex_t *, clockid_t, const struct timespec *))       \
  X(int, pthread_mutex_unlock, (pthread_mutex_t *))                                              \
  X(int, mtx_lock, (mtx_t *))                                                                    \
  X(int, mtx_trylock, (mtx_t *))                                                                 \
  X(int, mtx_timedlock, (mtx_t *restrict, const struct timespec *restrict))                      \
  X(int, mtx_unlock, (mtx_t *))                                                                  \
  X(int, pthread_rwlock_wrlock, (pthread_rwlock_t *))                                            \
  X(int, pthread_rwlock_trywrlock, (pthread_rwlock_t *))                                         \
  X(int, pthread_rwlock_timedwrlock, (pthread_rwlock_t *, const struct timespec *))              \
  X(int, pthread_rwlock_clockwrlock, (pthread_rwlock_t *, clockid_t, const struct timespec *))   \
  X(int, pthread_rwlock_unlock, (pthread_rwlock_t *))                                           \
  /* tracing: wrap_ptrace.c */                                                                  \
  X(long, ptrace, (enum __ptrace_request, ...))                                                  \
  X(int, prctl, (int, ...))                                          \
  /* CPU clock IDs that stay true across a restore: wrap_cpu_clock.c */                         \
  X(int, pthread_getcpuclockid, (pthread_t, clockid_t *))                                        \
  X(int, clock_getcpuclockid, (pid_t, clockid_t *))                                              \
  X(int, clock_gettime, (clockid_t, struct timespec *))                                          \
  X(int, clock_getres, (clockid_t, struct timespec *))                                           \
  /* the process's CPU time as clock(), times() and getrusage() read it: wrap_process_times.c */ \
  X(clock_t, clock, (void))                                                                      \
  X(clock_t, times, (struct tms *))                                                              \
  X(int, getrusage, (__rusage_who_t, struct rusage *))                                           \
  /* POSIX shared memory by name: wrap_shm_open.c */                                            \
  X(int, shm_open, (const char *, int, mode_t))                                                  \
  X(int, shm_unlink, (const char *))                                             \
  /* files made in /dev/shm by path: wrap_shm_paths.c */                                        \
  X(int, creat, (const char *, mode_t))                                                          \
  X(int, creat64, (const char *, mode_t))                                                        \
  X(int, mkstemp, (char *))                                                                      \
  X(int, mkstemp64, (char *))                                                                    \
  X(int, mkostemp, (char *, int))                                                                \
  X(int, mkostemp64, (char *, int))                                                              \
  X(int, unlink, (const char *))                                                                 \
  X(int, unlinkat, (int, const char *, int))                                                     \
  X(int, remove, (const char *))                                                                 \
  X(int, rename, (const char *, const char *))                                                   \
  X(int, renameat, (int, const char *, int, const char *))                                       \
  X(int, renameat2, (int, const char *, int, const char *, unsigned int))                        \
  /* regions a fork would not copy as they are: wrap_madvise.c */                               \
  X(int, madvise, (void *, size_t, int))                                                         \
  /* the paths of inotify watches: wrap_inotify.c */                                            \
  X(int, inotify_add_watch, (int, const char *, uint32_t))                                      \
  /* an absolute time on a CPU clock's timer: cpu_timers.c */                                   \
  X(int, timer_settime, (timer_t, int, const struct itimerspec *, struct itimerspec *))

#define AMBER_DECLARE_REAL(ret, name, params) ret(*name) params;
struct amber_real_table {
  AMBER_SYMBOLS(AMBER_DECLARE_REAL)
};
#undef AMBER_DECLARE_REAL

extern struct amber_real_table amber_real_fns;
void amber_resolve_real(void);

/* REAL(getpid)() calls libc's getpid, never our wrapper. */
#define REAL(name) (amber_real_fns.name ? amber_real_fns.name : (amber_resolve_real(), amber_real_fns.name))

#endif
