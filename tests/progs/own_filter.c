/* A program with a seccomp filter of its own, over Amber's: its filter traps uname with its
 * own SIGSYS, which must reach its own handler (not Amber's translation), before and after
 * it says "ready"; it then ticks until <dir>/go. A snapshot must refuse it, naming the filter.
 * Usage: own_filter <dir> */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

#include "check.h"
#include "wait_go.h"

static volatile sig_atomic_t trapped, code, data;

static void on_sigsys(int sig, siginfo_t *info, void *uc) {
  trapped++;
  code = info->si_code;
  data = info->si_errno;
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: own_filter DIR");
  setvbuf(stdout, NULL, _IOLBF, 0);
  struct sigaction sa = {0};
  sa.sa_sigaction = on_sigsys;
  sa.sa_flags = SA_SIGINFO;
  CHECK(sigaction(SIGSYS, &sa, NULL) == 0, "sigaction: errno %d", errno);
  struct sock_filter code_[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_uname, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP | 7),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {sizeof code_ / sizeof code_[0], code_};
  CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0, "no_new_privs: errno %d", errno);
  CHECK(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0, "seccomp: errno %d", errno);
  struct utsname u;
  uname(&u);
  CHECK(trapped == 1 && code == 1 /* SYS_SECCOMP */ && data == 7,
        "the program's own SIGSYS: %d times, si_code %d, si_errno %d", trapped, code, data);
  CHECK(getpid() >= 4200000, "getpid %d under Amber", getpid());
  say_ready();
  for (int tick = 0; !go_exists(argv[1]); tick++) {
    printf("tick %d\n", tick);
    usleep(50000);
  }
  uname(&u);
  CHECK(trapped == 2, "the program's own SIGSYS: %d times", trapped);
  printf("PASS\n");
  return 0;
}
