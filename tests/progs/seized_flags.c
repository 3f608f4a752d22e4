/* A seized thread keeps its own flags: a thread that blocks every signal behind Amber's back
 * (so that it is seized with ptrace, never running the checkpoint handler) has set its own
 * personality, no_new_privs, parent-death signal and GS base, which its process's main thread
 * does not share; a thread that takes the signal has set a GS base of its own too. After the
 * restores each finds its own values, and the main thread its own.
 *
 *   seized_flags DIR */
#include <asm/prctl.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"
#include "marked_calls.h"
#include "wait_go.h"

struct flags {
  long personality, nnp, gs_base;
  int pdeathsig;
};

static struct flags now(void) {
  struct flags f = {0};
  f.personality = syscall(SYS_personality, 0xffffffffL);
  f.nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
  prctl(PR_GET_PDEATHSIG, &f.pdeathsig);
  unsigned long gs = 0;
  syscall(SYS_arch_prctl, ARCH_GET_GS, &gs);
  f.gs_base = (long)gs;
  return f;
}

static void same(const char *who, struct flags want) {
  struct flags got = now();
  CHECK(got.personality == want.personality, "%s: personality %#lx, not %#lx", who,
        got.personality, want.personality);
  CHECK(got.nnp == want.nnp, "%s: no_new_privs %ld, not %ld", who, got.nnp, want.nnp);
  CHECK(got.pdeathsig == want.pdeathsig, "%s: parent-death signal %d, not %d", who,
        got.pdeathsig, want.pdeathsig);
  CHECK(got.gs_base == want.gs_base, "%s: GS base %#lx, not %#lx", who, got.gs_base,
        want.gs_base);
}

static int deaf_pipe[2], plain_pipe[2];
static volatile int settled;
static char deaf_gs[64], plain_gs[64];

static void *deaf(void *arg) {
  struct flags want = {PER_LINUX | ADDR_NO_RANDOMIZE, 1, (long)deaf_gs, SIGUSR2};
  CHECK(syscall(SYS_personality, want.personality) >= 0, "personality: %s", strerror(errno));
  CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0, "no_new_privs: %s", strerror(errno));
  CHECK(prctl(PR_SET_PDEATHSIG, SIGUSR2) == 0, "pdeathsig: %s", strerror(errno));
  CHECK(syscall(SYS_arch_prctl, ARCH_SET_GS, deaf_gs) == 0, "ARCH_SET_GS: %s", strerror(errno));
  same("the deaf thread, at first", want);
  block_everything();
  __atomic_add_fetch(&settled, 1, __ATOMIC_SEQ_CST);
  char c;
  CHECK(marked(SYS_read, deaf_pipe[0], (long)&c, 1, 0) == 1, "the deaf thread's read");
  same("the deaf thread", want);
  uint64_t none = 0; /* glibc's thread exit blocks signals: a trapped call, SIGSYS must be open */
  marked(SYS_rt_sigprocmask, SIG_SETMASK, (long)&none, 0, 8);
  return arg;
}

static void *plain(void *arg) {
  struct flags want = now();
  want.gs_base = (long)plain_gs;
  CHECK(syscall(SYS_arch_prctl, ARCH_SET_GS, plain_gs) == 0, "ARCH_SET_GS: %s", strerror(errno));
  __atomic_add_fetch(&settled, 1, __ATOMIC_SEQ_CST);
  char c;
  while (read(plain_pipe[0], &c, 1) != 1) CHECK(errno == EINTR, "the plain thread's read");
  same("the thread that takes signals", want);
  return arg;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  CHECK(argc == 2, "usage: seized_flags DIR");
  struct flags main_flags = now();
  CHECK(pipe(deaf_pipe) == 0 && pipe(plain_pipe) == 0, "pipe");
  pthread_t d, p;
  CHECK(pthread_create(&d, NULL, deaf, NULL) == 0, "pthread_create");
  CHECK(pthread_create(&p, NULL, plain, NULL) == 0, "pthread_create");
  while (settled < 2) usleep(1000);
  say_ready();
  wait_go(argv[1]);
  same("the main thread", main_flags);
  CHECK(write(deaf_pipe[1], "x", 1) == 1 && write(plain_pipe[1], "x", 1) == 1, "write");
  CHECK(pthread_join(d, NULL) == 0 && pthread_join(p, NULL) == 0, "join");
  printf("PASS\n");
  return 0;
}
