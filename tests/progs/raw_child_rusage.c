/* The rusage of a reaped child, asked for raw (waitid's fifth argument, wait4's fourth) and
 * through syscall(), holds the CPU time the child burned before a restore, as libc's wait4
 * gives it (children_cpu_times.c); and a child reaped by libc's waitid, which has no rusage,
 * does not leave its time to the next wait4's. Usage: raw_child_rusage <dir> */
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "raw_call.h"
#include "wait_go.h"

#define BURN_MS 200

static long long cpu_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static long long ru_ms(const struct rusage *u) {
  return (u->ru_utime.tv_sec + u->ru_stime.tv_sec) * 1000LL +
         (u->ru_utime.tv_usec + u->ru_stime.tv_usec) / 1000;
}

/* A child that burns BURN_MS of CPU, says so on `done`, and exits at go (or at once). */
static pid_t burner(int done, const char *dir) {
  pid_t pid = fork();
  CHECK(pid >= 0, "fork");
  if (pid) return pid;
  long long until = cpu_ms() + BURN_MS;
  while (cpu_ms() < until) {}
  CHECK(write(done, "x", 1) == 1, "write");
  if (dir) wait_go(dir);
  _exit(0);
}

enum how { RAW_WAITID, RAW_WAIT4, SYSCALL_WAITID, SYSCALL_WAIT4 };
static const char *names[] = {"raw waitid", "raw wait4", "syscall(SYS_waitid)",
                              "syscall(SYS_wait4)"};

/* Reaps `pid` as `how` says: the rusage's CPU time in ms. */
static long long reap(pid_t pid, enum how how, const char *when) {
  struct rusage u;
  memset(&u, 0, sizeof u);
  siginfo_t info;
  memset(&info, 0, sizeof info);
  int status = 0;
  long r;
  switch (how) {
  case RAW_WAITID: r = raw_call5(SYS_waitid, P_PID, pid, (long)&info, WEXITED, (long)&u); break;
  case RAW_WAIT4: r = raw_call(SYS_wait4, pid, (long)&status, 0, (long)&u); break;
  case SYSCALL_WAITID: r = syscall(SYS_waitid, P_PID, pid, &info, WEXITED, &u); break;
  default: r = syscall(SYS_wait4, pid, &status, 0, &u); break;
  }
  if (how == RAW_WAITID || how == SYSCALL_WAITID)
    CHECK(r == 0 && info.si_pid == pid && info.si_code == CLD_EXITED,
          "%s: %s of %d: %ld, si_pid %d", when, names[how], pid, r, info.si_pid);
  else
    CHECK(r == pid && WIFEXITED(status), "%s: %s of %d: %ld", when, names[how], pid, r);
  return ru_ms(&u);
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: raw_child_rusage DIR");
  setvbuf(stdout, NULL, _IOLBF, 0);
  int done[2];
  char c;
  CHECK(pipe(done) == 0, "pipe");
  for (int how = 0; how < 4; how++) { /* before: the kernel's figures, as they are */
    pid_t pid = burner(done[1], NULL);
    long long ms = reap(pid, how, "before");
    CHECK(ms >= BURN_MS * 3 / 4, "before: %s's rusage of a child that burned %d ms: %lld ms",
          names[how], BURN_MS, ms);
  }
  for (int i = 0; i < 4; i++) CHECK(read(done[0], &c, 1) == 1, "read");

  pid_t kept[4], quiet;
  for (int how = 0; how < 4; how++) kept[how] = burner(done[1], argv[1]);
  quiet = burner(done[1], argv[1]); /* reaped by libc's waitid */
  for (int i = 0; i < 5; i++) CHECK(read(done[0], &c, 1) == 1, "read");
  say_ready();
  wait_go(argv[1]);

  for (int how = 0; how < 4; how++) {
    long long ms = reap(kept[how], how, "after");
    CHECK(ms >= BURN_MS * 3 / 4,
          "after: %s's rusage lost the time the child burned before the restore: %lld ms, not %d",
          names[how], ms, BURN_MS);
  }
  siginfo_t info;
  CHECK(waitid(P_PID, quiet, &info, WEXITED) == 0 && info.si_pid == quiet, "libc waitid");
  pid_t idle = fork();
  CHECK(idle >= 0, "fork");
  if (idle == 0) _exit(0);
  struct rusage u;
  int status;
  CHECK(wait4(idle, &status, 0, &u) == idle, "wait4 of a child that burned nothing");
  CHECK(ru_ms(&u) < BURN_MS / 2,
        "wait4 of a child that burned nothing reports %lld ms: a child reaped by waitid left it "
        "its time",
        ru_ms(&u));
  printf("PASS\n");
  return 0;
}
