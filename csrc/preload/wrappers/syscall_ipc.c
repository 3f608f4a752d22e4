/* syscall() of the calls that name a SysV IPC object (its virtual ID in and out, the pids of
 * GETPID and the *_STAT records out), PR_SET_PTRACER's pid, ptrace's pid and event message, a
 * fanotify group's or signalfd's read: the same translation as the libc wrappers give theirs
 * (wrap_sysv.c, wrap_ptrace.c, wrap_fanotify.c, wrap_signalfd.c), whose raw forms take the same
 * arguments; ptrace keeps its raw form (a PEEK writes the word to *data). The kernel-side layer
 * makes a raw call from the program's own code through here too (seccomp.c). */
#include <sys/fanotify.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "../core/amber.h"

/* semctl's fourth argument, passed as the caller's union semun (POSIX leaves it to the caller) */
union semctl_arg {
  int val;
  void *buf;
};

static long address(void *p) { return p == (void *)-1 ? -1 : (long)p; }

int amber_syscall_ipc(long nr, const long a[6], long *ret) {
  switch (nr) {
  case SYS_semget: *ret = semget((key_t)a[0], (int)a[1], (int)a[2]); return 1;
  case SYS_semop: *ret = semop((int)a[0], (struct sembuf *)a[1], (size_t)a[2]); return 1;
  case SYS_semtimedop:
    *ret = semtimedop((int)a[0], (struct sembuf *)a[1], (size_t)a[2],
                      (const struct timespec *)a[3]);
    return 1;
  case SYS_semctl:
    *ret = semctl((int)a[0], (int)a[1], (int)a[2], (union semctl_arg){.buf = (void *)a[3]});
    return 1;
  case SYS_shmget: *ret = shmget((key_t)a[0], (size_t)a[1], (int)a[2]); return 1;
  case SYS_shmat: *ret = address(shmat((int)a[0], (const void *)a[1], (int)a[2])); return 1;
  case SYS_shmdt: *ret = shmdt((const void *)a[0]); return 1;
  case SYS_shmctl: *ret = shmctl((int)a[0], (int)a[1], (struct shmid_ds *)a[2]); return 1;
  case SYS_msgget: *ret = msgget((key_t)a[0], (int)a[1]); return 1;
  case SYS_msgsnd:
    *ret = msgsnd((int)a[0], (const void *)a[1], (size_t)a[2], (int)a[3]);
    return 1;
  case SYS_msgrcv:
    *ret = msgrcv((int)a[0], (void *)a[1], (size_t)a[2], a[3], (int)a[4]);
    return 1;
  case SYS_msgctl: *ret = msgctl((int)a[0], (int)a[1], (struct msqid_ds *)a[2]); return 1;
  case SYS_ptrace: *ret = amber_ptrace_raw(a); return 1;
  case SYS_prctl:
    if (a[0] != PR_SET_PTRACER) return 0;
    *ret = prctl((int)a[0], a[1], a[2], a[3], a[4]);
    return 1;
  case SYS_fanotify_init: *ret = fanotify_init((unsigned)a[0], (unsigned)a[1]); return 1;
  case SYS_read: /* a signalfd or fanotify group through syscall() (a raw read: seccomp.c) */
    *ret = REAL(syscall)(nr, a[0], a[1], a[2]);
    amber_signalfd_read((int)a[0], (void *)a[1], *ret);
    return 1;
  }
  return 0;
}
