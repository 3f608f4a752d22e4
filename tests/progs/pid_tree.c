/* Virtual pids across a fork tree three deep and across exec: getpid, getppid, fork, waitpid
 * and kill by virtual pid, process groups and sessions, /proc/<vpid>, a thread's virtual TID,
 * and unknown virtual pids rejected. Prints every ID it sees as "seen N" for the test to
 * compare with the system's. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "check.h"
#include "wait_go.h"

#define VPID_BASE 4200000

static volatile pid_t chld_from;
static void on_chld(int sig, siginfo_t *info, void *uc) { chld_from = info->si_pid; }

static void seen(const char *what, long id) {
  printf("seen %ld %s\n", id, what);
  fflush(stdout);
}

static void *thread_main(void *arg) {
  pid_t tid = gettid();
  CHECK(tid >= VPID_BASE && tid != getpid(), "thread tid %d", tid);
  CHECK(syscall(SYS_gettid) == tid, "syscall(SYS_gettid) is not virtual");
  CHECK(tgkill(getpid(), tid, 0) == 0, "tgkill by virtual ids");
  seen("tid", tid);
  return arg;
}

static int cloned(void *parent) {
  /* A child made with clone(2) has its own virtual pid, and its parent's as parent. */
  CHECK(getpid() >= VPID_BASE && getpid() != *(pid_t *)parent, "clone child getpid %d", getpid());
  CHECK(getppid() == *(pid_t *)parent, "clone child getppid %d", getppid());
  return 3;
}

static int exec_check(char **argv) {
  /* After exec: the same virtual pid and parent, and the library still there. */
  CHECK(getpid() == atoi(argv[2]), "after exec getpid is %d, not %s", getpid(), argv[2]);
  CHECK(getppid() == atoi(argv[3]), "after exec getppid is %d, not %s", getppid(), argv[3]);
  return 7;
}

static int grandchild(int report) {
  pid_t me = getpid();
  CHECK(write(report, &me, sizeof me) == sizeof me, "report");
  for (;;) pause(); /* killed by the root, by virtual pid */
}

static int child(int to_root, pid_t root) {
  pid_t me = getpid();
  seen("child", me);
  CHECK(getppid() == root, "the child's parent is %d, not %d", getppid(), root);
  CHECK(setpgid(0, 0) == 0 && getpgid(0) == me, "setpgid: getpgid is %d", getpgid(0));
  int report[2];
  CHECK(pipe(report) == 0, "pipe");
  pid_t g = fork();
  if (g == 0) {
    CHECK(getppid() == me, "the grandchild's parent is %d, not %d", getppid(), me);
    return grandchild(report[1]);
  }
  seen("grandchild", g);
  pid_t told;
  CHECK(read(report[0], &told, sizeof told) == sizeof told && told == g,
        "fork returned %d, the grandchild says %d", g, told);
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", g);
  int fd = open(path, O_RDONLY);
  CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
  close(fd);
  /* The root kills the grandchild; its parent reaps it and sees the signal. */
  CHECK(write(to_root, &g, sizeof g) == sizeof g, "tell the root");
  int status;
  CHECK(waitpid(g, &status, 0) == g, "waitpid grandchild");
  CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM, "grandchild status %x", status);
  /* exec keeps the virtual pid and the parent */
  pid_t e = fork();
  if (e == 0) {
    char a[16], b[16];
    snprintf(a, sizeof a, "%d", getpid());
    snprintf(b, sizeof b, "%d", me);
    execl("/proc/self/exe", "pid_tree", "exec-check", a, b, (char *)NULL);
    _exit(99);
  }
  CHECK(waitpid(e, &status, 0) == e && WIFEXITED(status) && WEXITSTATUS(status) == 7,
        "exec child status %x", status);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 4 && !strcmp(argv[1], "exec-check")) return exec_check(argv);
  pid_t me = getpid();
  CHECK(me >= VPID_BASE, "getpid is %d", me);
  CHECK(syscall(SYS_getpid) == me, "syscall(SYS_getpid) is not virtual");
  seen("root", me);
  seen("parent", getppid());
  CHECK(getpgrp() == me, "getpgrp is %d", getpgrp());
  /* /proc/self/stat and status show virtual pids too. */
  FILE *stat = fopen("/proc/self/stat", "r");
  int spid = 0, sppid = 0, spgrp = 0;
  CHECK(stat && fscanf(stat, "%d %*s %*c %d %d", &spid, &sppid, &spgrp) == 3, "read stat");
  fclose(stat);
  CHECK(spid == me && sppid == getppid() && spgrp == me, "stat says pid %d ppid %d pgrp %d", spid,
        sppid, spgrp);
  char status_text[4096];
  int fd = open("/proc/self/status", O_RDONLY);
  ssize_t n = read(fd, status_text, sizeof status_text - 1);
  close(fd);
  status_text[n > 0 ? n : 0] = 0;
  char want[64];
  snprintf(want, sizeof want, "\nPid:\t%d\n", me);
  CHECK(strstr(status_text, want), "status does not say %s", want + 1);
  seen("session", getsid(0));
  pthread_t t;
  pthread_create(&t, NULL, thread_main, NULL);
  pthread_join(t, NULL);

  struct sigaction sa = {.sa_sigaction = on_chld, .sa_flags = SA_SIGINFO};
  CHECK(sigaction(SIGCHLD, &sa, NULL) == 0, "sigaction");
  struct sigaction back;
  CHECK(sigaction(SIGCHLD, NULL, &back) == 0 && back.sa_sigaction == on_chld,
        "sigaction does not give back the program's handler");
  int pipefd[2];
  CHECK(pipe(pipefd) == 0, "pipe");
  pid_t c = fork();
  if (c == 0) exit(child(pipefd[1], me));
  CHECK(c >= VPID_BASE, "fork returned %d", c);
  pid_t g = -1;
  CHECK(read(pipefd[0], &g, sizeof g) == sizeof g && g >= VPID_BASE, "the grandchild is %d", g);
  CHECK(kill(g, SIGTERM) == 0, "kill(%d): %s", g, strerror(errno));
  int status;
  CHECK(waitpid(c, &status, 0) == c && WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "child status %x", status);
  CHECK(chld_from == c, "SIGCHLD's si_pid is %d, not the child's %d", chld_from, c);
  static char clone_stack[65536];
  pid_t cl = clone(cloned, clone_stack + sizeof clone_stack, SIGCHLD, &me);
  CHECK(cl >= VPID_BASE, "clone returned %d", cl);
  CHECK(waitpid(cl, &status, 0) == cl && WIFEXITED(status) && WEXITSTATUS(status) == 3,
        "clone child status %x", status);
  /* Unknown virtual pids are errors, never passed through. */
  errno = 0;
  CHECK(kill(VPID_BASE + 3999, 0) == -1 && errno == ESRCH, "kill(unknown) errno %d", errno);
  CHECK(waitpid(VPID_BASE + 3999, NULL, WNOHANG) == -1 && errno == ECHILD, "waitpid(unknown)");
  CHECK(getpgid(VPID_BASE + 3999) == -1 && errno == ESRCH, "getpgid(unknown)");
  CHECK(kill(c, 0) == -1 && errno == ESRCH, "a reaped child's pid still answers");
  printf("PASS\n");
  fflush(stdout);
  if (argc == 2) wait_go(argv[1]); /* the test looks at the tables meanwhile */
  return 0;
}
