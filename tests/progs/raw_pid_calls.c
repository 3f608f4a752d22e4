/* Calls that name a process, made with the `syscall` instruction itself (as Go's runtime or
 * assembly make them), so that no libc function and no syscall() is there to translate them:
 * Amber's seccomp layer must. Each gets virtual ids and acts on the process it names, before
 * a snapshot and after the restore (new system pids). Also: a SIGSYS the program sends itself
 * reaches its own handler; a raw rt_sigaction for SIGSYS reads back the program's own action.
 * Usage: raw_pid_calls <dir> */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "raw_call.h"
#include "wait_go.h"

/* A raw call: r9 holds whatever the caller had there, here a value of its own. */
static long rs(long n, long a, long b, long c, long d, long e) {
  return raw_call5(n, a, b, c, d, e);
}

static int pipefd[2];
static volatile sig_atomic_t usr2, own_sigsys;

static void child_usr1(int sig) {
  char c = 'u';
  if (write(pipefd[1], &c, 1) < 0) _exit(3);
}

static void on_usr2(int sig) { usr2++; }
static void on_sigsys(int sig, siginfo_t *info, void *uc) { own_sigsys++; }
static volatile sig_atomic_t raw_sigsys_seen;
static void raw_sigsys(int sig) { raw_sigsys_seen++; }
#define SA_RESTORER 0x04000000

/* The child says 'u' for each SIGUSR1 it gets: one within two seconds. */
static void expect_usr1(const char *what) {
  struct pollfd p = {pipefd[0], POLLIN, 0};
  CHECK(poll(&p, 1, 2000) == 1, "%s: the child got no SIGUSR1", what);
  char c;
  CHECK(read(pipefd[0], &c, 1) == 1 && c == 'u', "%s: read from the child", what);
}

static pid_t child;

static void *thread_tid(void *arg) {
  *(long *)arg = rs(SYS_gettid, 0, 0, 0, 0, 0) == gettid() ? 1 : -gettid();
  return NULL;
}

static void checks(const char *phase) {
  pid_t self = getpid();
  CHECK(self >= 4200000, "%s: getpid %d is not virtual", phase, self);
  CHECK(rs(SYS_getpid, 0, 0, 0, 0, 0) == self, "%s: raw getpid %ld, not %d", phase,
        rs(SYS_getpid, 0, 0, 0, 0, 0), self);
  CHECK(rs(SYS_gettid, 0, 0, 0, 0, 0) == self, "%s: raw gettid", phase);
  CHECK(rs(SYS_getppid, 0, 0, 0, 0, 0) == getppid(), "%s: raw getppid", phase);
  CHECK(rs(SYS_getpgrp, 0, 0, 0, 0, 0) == getpgrp(), "%s: raw getpgrp", phase);
  CHECK(rs(SYS_getpgid, 0, 0, 0, 0, 0) == getpgrp(), "%s: raw getpgid(0)", phase);
  CHECK(rs(SYS_getsid, 0, 0, 0, 0, 0) == getsid(0), "%s: raw getsid(0)", phase);
  CHECK(rs(SYS_getpgid, child, 0, 0, 0, 0) == getpgid(child), "%s: raw getpgid(child) %ld", phase,
        rs(SYS_getpgid, child, 0, 0, 0, 0));
  CHECK(rs(SYS_getsid, child, 0, 0, 0, 0) == getsid(0), "%s: raw getsid(child)", phase);
  long ok = 0;
  pthread_t t;
  pthread_create(&t, NULL, thread_tid, &ok);
  pthread_join(t, NULL);
  CHECK(ok == 1, "%s: raw gettid in a thread is not its virtual TID (%ld)", phase, -ok);

  /* Signals reach the process named. */
  CHECK(rs(SYS_kill, child, SIGUSR1, 0, 0, 0) == 0, "%s: raw kill", phase);
  expect_usr1("kill");
  CHECK(rs(SYS_kill, child + 100000, 0, 0, 0, 0) == -ESRCH, "%s: raw kill of an unknown "
        "virtual pid", phase);
  CHECK(rs(SYS_tgkill, child, child, SIGUSR1, 0, 0) == 0, "%s: raw tgkill", phase);
  expect_usr1("tgkill");
  CHECK(rs(SYS_tkill, child, SIGUSR1, 0, 0, 0) == 0, "%s: raw tkill", phase);
  expect_usr1("tkill");
  siginfo_t si;
  memset(&si, 0, sizeof si);
  si.si_signo = SIGUSR1;
  si.si_code = SI_QUEUE;
  si.si_pid = self;
  si.si_uid = getuid();
  CHECK(rs(SYS_rt_sigqueueinfo, child, SIGUSR1, (long)&si, 0, 0) == 0, "%s: rt_sigqueueinfo",
        phase);
  expect_usr1("rt_sigqueueinfo");
  CHECK(rs(SYS_rt_tgsigqueueinfo, child, child, SIGUSR1, (long)&si, 0) == 0,
        "%s: rt_tgsigqueueinfo", phase);
  expect_usr1("rt_tgsigqueueinfo");
  int before = usr2;
  CHECK(rs(SYS_tgkill, self, self, SIGUSR2, 0, 0) == 0 && usr2 == before + 1,
        "%s: raw tgkill of itself", phase);
  long fd = rs(SYS_pidfd_open, child, 0, 0, 0, 0);
  CHECK(fd >= 0, "%s: raw pidfd_open: %ld", phase, fd);
  CHECK(rs(SYS_pidfd_send_signal, fd, SIGUSR1, 0, 0, 0) == 0, "%s: pidfd_send_signal", phase);
  expect_usr1("pidfd_open");
  close((int)fd);

  /* Scheduling, priority and limits land on the child. */
  cpu_set_t set;
  CHECK(rs(SYS_sched_getaffinity, child, sizeof set, (long)&set, 0, 0) > 0, "%s: affinity",
        phase);
  CHECK(rs(SYS_sched_setaffinity, child, sizeof set, (long)&set, 0, 0) == 0,
        "%s: setaffinity", phase);
  struct sched_param sp = {0};
  CHECK(rs(SYS_sched_getscheduler, child, 0, 0, 0, 0) == SCHED_OTHER, "%s: getscheduler", phase);
  CHECK(rs(SYS_sched_setscheduler, child, SCHED_BATCH, (long)&sp, 0, 0) == 0,
        "%s: setscheduler", phase);
  CHECK(sched_getscheduler(child) == SCHED_BATCH, "%s: the child's policy did not change", phase);
  CHECK(rs(SYS_sched_setscheduler, child, SCHED_OTHER, (long)&sp, 0, 0) == 0, "%s: back", phase);
  CHECK(rs(SYS_sched_getparam, child, (long)&sp, 0, 0, 0) == 0, "%s: getparam", phase);
  CHECK(rs(SYS_sched_setparam, child, (long)&sp, 0, 0, 0) == 0, "%s: setparam", phase);
  int nice = strcmp(phase, "before") ? 7 : 5;
  CHECK(rs(SYS_setpriority, PRIO_PROCESS, child, nice, 0, 0) == 0, "%s: setpriority", phase);
  CHECK(getpriority(PRIO_PROCESS, child) == nice, "%s: the child's nice is %d", phase,
        getpriority(PRIO_PROCESS, child));
  CHECK(rs(SYS_getpriority, PRIO_PROCESS, child, 0, 0, 0) == 20 - nice, "%s: getpriority", phase);
  struct rlimit lim = {64, 0}, got;
  prlimit(child, RLIMIT_NOFILE, NULL, &got);
  lim.rlim_max = got.rlim_max;
  lim.rlim_cur = strcmp(phase, "before") ? 65 : 64;
  CHECK(rs(SYS_prlimit64, child, RLIMIT_NOFILE, (long)&lim, 0, 0) == 0, "%s: prlimit64", phase);
  CHECK(prlimit(child, RLIMIT_NOFILE, NULL, &got) == 0 && got.rlim_cur == lim.rlim_cur,
        "%s: the child's limit is %ld", phase, (long)got.rlim_cur);
  CHECK(rs(SYS_setpgid, child, child, 0, 0, 0) == 0 && getpgid(child) == child,
        "%s: raw setpgid", phase);

  /* Waits name and report the child by its virtual pid. */
  pid_t gone = fork();
  if (gone == 0) _exit(7);
  int status = 0;
  long r = rs(SYS_wait4, gone, (long)&status, 0, 0, 0);
  CHECK(r == gone && WIFEXITED(status) && WEXITSTATUS(status) == 7, "%s: raw wait4 %ld of %d",
        phase, r, gone);
  gone = fork();
  if (gone == 0) _exit(8);
  memset(&si, 0, sizeof si);
  r = rs(SYS_waitid, P_PID, gone, (long)&si, WEXITED, 0);
  CHECK(r == 0 && si.si_pid == gone && si.si_status == 8, "%s: raw waitid %ld, si_pid %d of %d",
        phase, r, si.si_pid, gone);

  /* The program's own SIGSYS handler gets the SIGSYS it sends, and reads as its own. */
  int seen = own_sigsys;
  CHECK(rs(SYS_kill, self, SIGSYS, 0, 0, 0) == 0 && own_sigsys == seen + 1,
        "%s: the program's SIGSYS handler did not run", phase);
  /* posix_spawn's child, sharing this memory until its exec, resets the SIGSYS action. */
  pid_t spawned;
  char *true_argv[] = {"true", NULL};
  CHECK(posix_spawnp(&spawned, "true", NULL, NULL, true_argv, environ) == 0 &&
            waitpid(spawned, &status, 0) == spawned && WIFEXITED(status),
        "%s: posix_spawn", phase);
  struct sigaction back;
  CHECK(sigaction(SIGSYS, NULL, &back) == 0 && back.sa_sigaction == on_sigsys,
        "%s: sigaction reads another SIGSYS handler than the program's", phase);
  /* Set and read with rt_sigaction itself: the program's, and the next SIGSYS goes there. */
  struct {
    void *handler;
    unsigned long flags;
    void *restorer;
    unsigned long mask;
  } act = {(void *)raw_sigsys, SA_RESTORER, back.sa_restorer, 0}, old_act, now;
  CHECK(rs(SYS_rt_sigaction, SIGSYS, (long)&act, (long)&old_act, 8, 0) == 0, "%s: set", phase);
  CHECK(rs(SYS_rt_sigaction, SIGSYS, 0, (long)&now, 8, 0) == 0 && now.handler == act.handler,
        "%s: raw rt_sigaction reads %p for SIGSYS, not the program's handler", phase, now.handler);
  seen = raw_sigsys_seen;
  CHECK(rs(SYS_kill, self, SIGSYS, 0, 0, 0) == 0 && raw_sigsys_seen == seen + 1,
        "%s: the SIGSYS handler set with rt_sigaction did not run", phase);
  CHECK(rs(SYS_rt_sigaction, SIGSYS, (long)&old_act, 0, 8, 0) == 0, "%s: put back", phase);
  /* Blocking every signal leaves SIGSYS open: a trapped call then still works. */
  sigset_t all, old;
  sigfillset(&all);
  CHECK(rs(SYS_rt_sigprocmask, SIG_BLOCK, (long)&all, (long)&old, 8, 0) == 0, "%s: mask", phase);
  CHECK(rs(SYS_getpid, 0, 0, 0, 0, 0) == self, "%s: raw getpid with every signal blocked", phase);
  CHECK(rs(SYS_rt_sigprocmask, SIG_SETMASK, (long)&old, 0, 8, 0) == 0, "%s: unmask", phase);
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  setvbuf(stdout, NULL, _IOLBF, 0);
  CHECK(pipe(pipefd) == 0, "pipe");
  signal(SIGUSR1, child_usr1);
  child = fork();
  if (child == 0) {
    for (;;) pause();
  }
  signal(SIGUSR2, on_usr2);
  struct sigaction sa = {0};
  sa.sa_sigaction = on_sigsys;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSYS, &sa, NULL);
  checks("before");
  say_ready();
  wait_go(argv[1]);
  checks("after");
  kill(child, SIGKILL);
  waitpid(child, NULL, 0);
  printf("PASS\n");
  return 0;
}
