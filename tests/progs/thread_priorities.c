/* Threads that do not share their process's scheduling: a background thread that lowered its
 * own nice value, I/O priority and CPU affinity (as RocksDB's compaction threads do), and one
 * under SCHED_BATCH, beside a main thread at the defaults but for a timer slack of 1 ns (an
 * audio program's), which the threads inherit; and a thread that blocks every
 * signal with the raw call (as Go's signal thread does), which the snapshot seizes from
 * outside, at SCHED_IDLE. The kernel keeps each per thread; a restore once gave every thread
 * the main thread's. Says "ready", waits for DIR/go, then each
 * thread checks its own and the program prints PASS, or FAIL and exits 1.
 *
 *   thread_priorities DIR */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"
#include "wait_go.h"

#define IOPRIO_WHO_PROCESS 1
#define IOPRIO_IDLE (3 << 13)

struct prio {
  int nice, policy, ioprio;
  long slack;
  cpu_set_t cpus;
};

static const char *dir;
static pthread_barrier_t set_up;

static void read_prio(struct prio *p) {
  errno = 0;
  p->nice = getpriority(PRIO_PROCESS, 0); /* the calling thread's, on Linux */
  p->policy = sched_getscheduler(0);
  p->ioprio = (int)syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0);
  p->slack = prctl(PR_GET_TIMERSLACK);
  CPU_ZERO(&p->cpus);
  CHECK(sched_getaffinity(0, sizeof p->cpus, &p->cpus) == 0, "sched_getaffinity: %m");
}

static void check_same(const char *who, const struct prio *before) {
  struct prio now;
  read_prio(&now);
  CHECK(now.nice == before->nice, "%s: nice %d, was %d", who, now.nice, before->nice);
  CHECK(now.policy == before->policy, "%s: policy %d, was %d", who, now.policy, before->policy);
  CHECK(now.ioprio == before->ioprio, "%s: I/O priority %#x, was %#x", who, now.ioprio,
        before->ioprio);
  CHECK(now.slack == before->slack, "%s: timer slack %ld ns, was %ld", who, now.slack,
        before->slack);
  CHECK(CPU_EQUAL(&now.cpus, &before->cpus), "%s: CPU affinity %d CPUs, was %d", who,
        CPU_COUNT(&now.cpus), CPU_COUNT(&before->cpus));
}

/* A thread that has set its own: noted, then checked once the test says go (a thread that
 * blocks every signal first, as Go's signal thread does: the snapshot seizes it). */
static void hold_then_check(const char *who, int deaf) {
  struct prio before;
  read_prio(&before);
  uint64_t all = ~0ULL;
  if (deaf) CHECK(syscall(SYS_rt_sigprocmask, SIG_BLOCK, &all, 0, 8) == 0, "rt_sigprocmask: %m");
  pthread_barrier_wait(&set_up);
  wait_go(dir);
  check_same(who, &before);
}

/* Lowers its own priorities. */
static void *background(void *arg) {
  (void)arg;
  CHECK(setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 7) == 0, "setpriority: %m");
  CHECK(syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, IOPRIO_IDLE) == 0, "ioprio_set: %m");
  cpu_set_t one;
  CPU_ZERO(&one);
  sched_getaffinity(0, sizeof one, &one);
  for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) /* keep the first allowed CPU only */
    if (CPU_ISSET(cpu, &one)) {
      CPU_ZERO(&one);
      CPU_SET(cpu, &one);
      break;
    }
  CHECK(sched_setaffinity(0, sizeof one, &one) == 0, "sched_setaffinity: %m");
  hold_then_check("the background thread", 0);
  return 0;
}

static void *batch(void *arg) {
  (void)arg;
  struct sched_param param = {0};
  CHECK(sched_setscheduler(0, SCHED_BATCH, &param) == 0, "SCHED_BATCH: %m");
  hold_then_check("the SCHED_BATCH thread", 0);
  return 0;
}

/* Never takes a signal: the snapshot reads its scheduling from outside. */
static void *deaf(void *arg) {
  (void)arg;
  struct sched_param param = {0};
  CHECK(sched_setscheduler(0, SCHED_IDLE, &param) == 0, "SCHED_IDLE: %m");
  hold_then_check("the thread that blocks every signal", 1);
  return 0;
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: thread_priorities DIR");
  dir = argv[1];
  CHECK(prctl(PR_SET_TIMERSLACK, 1UL) == 0, "PR_SET_TIMERSLACK: %m");
  pthread_barrier_init(&set_up, 0, 4);
  pthread_t t[3];
  pthread_create(&t[0], 0, background, 0);
  pthread_create(&t[1], 0, batch, 0);
  pthread_create(&t[2], 0, deaf, 0);
  struct prio before;
  read_prio(&before);
  pthread_barrier_wait(&set_up);
  say_ready();
  wait_go(dir);
  check_same("the main thread", &before);
  pthread_join(t[0], 0);
  pthread_join(t[1], 0);
  pthread_join(t[2], 0);
  printf("PASS\n");
  return 0;
}
