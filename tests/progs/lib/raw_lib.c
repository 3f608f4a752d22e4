/* A shared library that makes its system calls itself, as a Go library's runtime does: built
 * twice (LIB_FN names the one function), once linked into shared_lib_calls and once dlopen'd by
 * it. LIB_FN(why, n) checks that its raw calls see the caller's virtual ids: 0, or 1 with the
 * failed check in why. Its constructor does what a library's may (OpenBLAS starts its threads
 * there): in a program exec'd inside an application, before Amber's library is set up, these
 * calls are trapped by the filter the exec kept. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../raw_call.h"

static void *thread_main(void *arg) { return arg; }

__attribute__((constructor)) static void start_up(void) {
  pthread_t thread;
  if (pthread_create(&thread, NULL, thread_main, NULL) == 0) pthread_join(thread, NULL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, NULL);
  sigprocmask(SIG_UNBLOCK, &set, NULL);
  struct sigaction ignore = {.sa_handler = SIG_IGN};
  sigaction(SIGURG, &ignore, NULL);
  raw_call(SYS_getpid, 0, 0, 0, 0); /* the system pid, this early */
}

#define FAILED(...) return snprintf(why, n, __VA_ARGS__), 1

int LIB_FN(char *why, size_t n) {
  long pid = raw_call(SYS_getpid, 0, 0, 0, 0), tid = raw_call(SYS_gettid, 0, 0, 0, 0);
  if (pid != getpid()) FAILED("raw getpid %ld, libc %d", pid, getpid());
  if (tid != gettid()) FAILED("raw gettid %ld, libc %d", tid, gettid());
  long ppid = raw_call(SYS_getppid, 0, 0, 0, 0);
  if (ppid != getppid()) FAILED("raw getppid %ld, libc %d", ppid, getppid());
  long r = raw_call(SYS_kill, getpid(), 0, 0, 0);
  if (r != 0) FAILED("raw kill(%d, 0): %ld", getpid(), r);
  char path[64], text[4096];
  snprintf(path, sizeof path, "/proc/%d/status", getpid());
  long fd = raw_call(SYS_openat, AT_FDCWD, (long)path, O_RDONLY, 0);
  if (fd < 0) FAILED("raw open %s: %ld", path, fd);
  long got = raw_call(SYS_read, fd, (long)text, sizeof text - 1, 0);
  raw_call(SYS_close, fd, 0, 0, 0);
  text[got > 0 ? got : 0] = 0;
  char want[32];
  snprintf(want, sizeof want, "\nPid:\t%d\n", getpid());
  if (!strstr(text, want)) FAILED("%s read raw has no line Pid: %d", path, getpid());
  return 0;
}
