/* Flags the kernel keeps for a process or a thread come back as they were: oom_score_adj, the
 * dumpable flag, and, each thread its own, no_new_privs, the personality and the parent-death
 * signal. A second thread keeps different ones from the main thread. */
#include <pthread.h>
#include <signal.h>
#include <sys/personality.h>
#include <sys/prctl.h>

#include "check.h"
#include "wait_go.h"

#define MAIN_PERSONA (ADDR_NO_RANDOMIZE | READ_IMPLIES_EXEC)
#define OTHER_PERSONA READ_IMPLIES_EXEC

static const char *dir;
static pthread_barrier_t set_up;

static int oom_score_adj(void) {
  FILE *f = fopen("/proc/self/oom_score_adj", "r");
  CHECK(f, "open oom_score_adj");
  int v = -9999;
  CHECK(fscanf(f, "%d", &v) == 1, "read oom_score_adj");
  fclose(f);
  return v;
}

static void check_thread(const char *who, int persona, int nnp, int pdeathsig) {
  int now = personality(0xffffffff);
  CHECK(now == persona, "%s: personality is %#x, not %#x", who, now, persona);
  int bit = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
  CHECK(bit == nnp, "%s: no_new_privs is %d, not %d", who, bit, nnp);
  int sig = -1;
  prctl(PR_GET_PDEATHSIG, &sig);
  CHECK(sig == pdeathsig, "%s: the parent-death signal is %d, not %d", who, sig, pdeathsig);
}

static void *other(void *arg) {
  CHECK(personality(OTHER_PERSONA) >= 0, "personality in the thread");
  pthread_barrier_wait(&set_up);
  wait_go(dir);
  check_thread("the second thread", OTHER_PERSONA, 0, 0);
  return NULL;
}

int main(int argc, char **argv) {
  CHECK(argc == 2 || argc == 3, "usage: proc_flags DIR [become-nobody]");
  dir = argv[1];
  /* Started as root: it becomes nobody, which makes it not dumpable, and asks to be dumpable
   * again, as servers that drop privileges do to keep their core dumps. */
  int nobody = argc == 3 && getuid() == 0;
  int want_dumpable = nobody ? 1 : 0;
  pthread_barrier_init(&set_up, NULL, 2);
  pthread_t t;
  CHECK(pthread_create(&t, NULL, other, NULL) == 0, "pthread_create");
  int oom = nobody ? 0 : 321; /* as nobody, the flag alone (a changed one is written dumpable) */
  FILE *f = fopen("/proc/self/oom_score_adj", "w");
  CHECK(f && fprintf(f, "%d\n", oom) > 0 && fclose(f) == 0, "write oom_score_adj");
  if (nobody)
    CHECK(setresgid(65534, 65534, 65534) == 0 && setresuid(65534, 65534, 65534) == 0,
          "switch to nobody");
  CHECK(prctl(PR_SET_DUMPABLE, want_dumpable, 0, 0, 0) == 0, "PR_SET_DUMPABLE");
  CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0, "PR_SET_NO_NEW_PRIVS");
  CHECK(personality(MAIN_PERSONA) >= 0, "personality");
  CHECK(prctl(PR_SET_PDEATHSIG, SIGUSR2) == 0, "PR_SET_PDEATHSIG");
  pthread_barrier_wait(&set_up);
  say_ready();
  wait_go(dir);
  CHECK(oom_score_adj() == oom, "oom_score_adj is %d", oom_score_adj());
  int dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
  CHECK(dumpable == want_dumpable, "dumpable is %d", dumpable);
  check_thread("the main thread", MAIN_PERSONA, 1, SIGUSR2);
  pthread_join(t, NULL);
  printf("PASS\n");
  return 0;
}
