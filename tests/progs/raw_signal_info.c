/* The sender's pid a program reads about a signal, when it reads it with the `syscall`
 * instruction itself (as Go's runtime or assembly do): a raw read of a signalfd (made with raw
 * signalfd4, and one made through libc) gives ssi_pid virtual, and a handler installed with a raw
 * rt_sigaction gets si_pid virtual; a raw read of the action gives back the program's own
 * handler. Before a snapshot and after the restore (new system pids), twice.
 * Usage: raw_signal_info <dir> */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "raw_call.h"
#include "wait_go.h"

struct ksigaction {
  uint64_t handler, flags, restorer, mask;
};

void raw_restorer(void);
__asm__(".text\nraw_restorer:\n\tmov $15, %rax\n\tsyscall\n\thlt\n");

static volatile sig_atomic_t got_pid, got_count;

static void on_usr2(int sig, siginfo_t *info, void *uc) {
  got_pid = info->si_pid;
  got_count++;
}

static void on_usr2_before(int sig, siginfo_t *info, void *uc) { on_usr2(sig, info, uc); }

/* A child that sends `sig` to this process, then waits (its row must stay in the table while
 * this process reads about it) until reaped(): its virtual pid. */
static int hold[2];

static pid_t sender(int sig) {
  CHECK(pipe(hold) == 0, "pipe");
  pid_t child = fork();
  if (child == 0) {
    char c;
    close(hold[1]);
    int bad = kill(getppid(), sig);
    _exit(read(hold[0], &c, 1) == 0 && !bad ? 0 : 1);
  }
  CHECK(child >= 4200000, "fork gave %d", child);
  close(hold[0]);
  return child;
}

static void reaped(pid_t child) {
  close(hold[1]);
  int status = 0;
  CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && !WEXITSTATUS(status),
        "the sender %d failed (%#x)", child, status);
}

static void signalfd_read(const char *phase, int fd, const char *how) {
  pid_t child = sender(SIGUSR1);
  struct signalfd_siginfo si;
  memset(&si, 0, sizeof si);
  long n = raw_call(SYS_read, fd, (long)&si, sizeof si, 0);
  CHECK(n == sizeof si && si.ssi_signo == SIGUSR1, "%s: raw read of %s signalfd %d: %ld", phase,
        how, fd, n);
  CHECK((pid_t)si.ssi_pid == child, "%s: raw read of %s signalfd: ssi_pid %u, not %d", phase, how,
        si.ssi_pid, child);
  reaped(child);
}

static void raw_handler(const char *phase) {
  struct ksigaction act = {(uint64_t)on_usr2, SA_SIGINFO | 0x04000000 /* SA_RESTORER */,
                           (uint64_t)raw_restorer, 0},
                    old;
  struct ksigaction first = act;
  first.handler = (uint64_t)on_usr2_before;
  CHECK(raw_call(SYS_rt_sigaction, SIGUSR2, (long)&first, 0, 8) == 0, "%s: raw rt_sigaction",
        phase);
  memset(&old, 0, sizeof old);
  CHECK(raw_call(SYS_rt_sigaction, SIGUSR2, (long)&act, (long)&old, 8) == 0 &&
            old.handler == first.handler,
        "%s: a raw rt_sigaction that replaces a handler gives back %#lx, not %#lx", phase,
        (unsigned long)old.handler, (unsigned long)first.handler);
  memset(&old, 0, sizeof old);
  CHECK(raw_call(SYS_rt_sigaction, SIGUSR2, 0, (long)&old, 8) == 0 && old.handler == act.handler,
        "%s: a raw read of the action gives %#lx, not the handler %#lx", phase,
        (unsigned long)old.handler, (unsigned long)act.handler);
  struct sigaction libc_old;
  CHECK(sigaction(SIGUSR2, NULL, &libc_old) == 0 && libc_old.sa_sigaction == on_usr2,
        "%s: sigaction reads another handler", phase);
  int before = got_count;
  pid_t child = sender(SIGUSR2);
  for (int i = 0; i < 1000 && got_count == before; i++) usleep(10000);
  CHECK(got_count == before + 1, "%s: the handler ran %d times", phase, got_count - before);
  CHECK(got_pid == child, "%s: si_pid %d in a raw rt_sigaction's handler, not %d", phase,
        (int)got_pid, child);
  reaped(child);
}

static int raw_fd, libc_fd;

static void checks(const char *phase) {
  signalfd_read(phase, raw_fd, "a raw");
  signalfd_read(phase, libc_fd, "libc's");
  raw_handler(phase);
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  setvbuf(stdout, NULL, _IOLBF, 0);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, NULL);
  raw_fd = (int)raw_call(SYS_signalfd4, -1, (long)&set, 8, SFD_CLOEXEC);
  CHECK(raw_fd >= 0, "raw signalfd4: %d", raw_fd);
  libc_fd = signalfd(-1, &set, 0);
  CHECK(libc_fd >= 0, "signalfd: %s", strerror(errno));
  checks("before");
  say_ready();
  wait_go(argv[1]);
  checks("after");
  printf("PASS\n");
  return 0;
}
