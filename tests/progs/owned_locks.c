/* Locks that name their owner by thread ID, held across a snapshot and restore: a recursive, an
 * error-checking, a robust and a priority-inheritance mutex, a C11 recursive mtx_t and a rwlock
 * held for writing, all by one thread blocked in read(); and a process-shared robust mutex in
 * shared memory held by a child. After the restore the holder relocks and unlocks each one (its
 * new TID must own them), the main thread finds them still taken by the holder and then free,
 * and the child exits holding the shared mutex, so the parent must get EOWNERDEAD. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <threads.h>
#include <time.h>

#include "check.h"
#include "wait_go.h"

static pthread_mutex_t rec, err, rob, pi;
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static mtx_t cm;
static int go_pipe[2], held_pipe[2];

static void init_mutex(pthread_mutex_t *m, int type, int robust, int protocol, int pshared) {
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_settype(&a, type);
  pthread_mutexattr_setrobust(&a, robust);
  pthread_mutexattr_setprotocol(&a, protocol);
  pthread_mutexattr_setpshared(&a, pshared);
  CHECK(pthread_mutex_init(m, &a) == 0, "pthread_mutex_init");
}

static void *holder(void *arg) {
  CHECK(pthread_mutex_lock(&rec) == 0 && pthread_mutex_lock(&rec) == 0, "lock rec");
  CHECK(pthread_mutex_lock(&err) == 0, "lock err");
  CHECK(pthread_mutex_lock(&rob) == 0, "lock rob");
  CHECK(pthread_mutex_lock(&pi) == 0, "lock pi");
  CHECK(pthread_rwlock_wrlock(&rw) == 0, "wrlock");
  CHECK(mtx_lock(&cm) == thrd_success && mtx_lock(&cm) == thrd_success, "mtx_lock");
  CHECK(write(held_pipe[1], "h", 1) == 1, "write");
  char c;
  CHECK(read(go_pipe[0], &c, 1) == 1, "read: %s", strerror(errno)); /* the snapshot lands here */

  int r = pthread_mutex_trylock(&rec);
  CHECK(r == 0, "the holder cannot relock its recursive mutex: %s", strerror(r));
  for (int i = 0; i < 3; i++) {
    r = pthread_mutex_unlock(&rec);
    CHECK(r == 0, "unlock %d of the recursive mutex: %s", i, strerror(r));
  }
  r = pthread_mutex_lock(&err);
  CHECK(r == EDEADLK, "relocking the error-checking mutex gave %s, not EDEADLK", strerror(r));
  CHECK((r = pthread_mutex_unlock(&err)) == 0, "unlock err: %s", strerror(r));
  CHECK((r = pthread_mutex_unlock(&rob)) == 0, "unlock robust: %s", strerror(r));
  CHECK((r = pthread_mutex_unlock(&pi)) == 0, "unlock PI: %s", strerror(r));
  CHECK((r = pthread_rwlock_unlock(&rw)) == 0, "unlock rwlock: %s", strerror(r));
  CHECK(mtx_unlock(&cm) == thrd_success && mtx_unlock(&cm) == thrd_success, "mtx_unlock");
  return arg;
}

static int timed_lock(pthread_mutex_t *m) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  t.tv_sec += 10;
  return pthread_mutex_timedlock(m, &t);
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: owned_locks DIR");
  init_mutex(&rec, PTHREAD_MUTEX_RECURSIVE, PTHREAD_MUTEX_STALLED, PTHREAD_PRIO_NONE, 0);
  init_mutex(&err, PTHREAD_MUTEX_ERRORCHECK, PTHREAD_MUTEX_STALLED, PTHREAD_PRIO_NONE, 0);
  init_mutex(&rob, PTHREAD_MUTEX_ERRORCHECK, PTHREAD_MUTEX_ROBUST, PTHREAD_PRIO_NONE, 0);
  init_mutex(&pi, PTHREAD_MUTEX_ERRORCHECK, PTHREAD_MUTEX_STALLED, PTHREAD_PRIO_INHERIT, 0);
  CHECK(mtx_init(&cm, mtx_plain | mtx_recursive) == thrd_success, "mtx_init");
  pthread_mutex_t *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(shared != MAP_FAILED, "mmap");
  init_mutex(shared, PTHREAD_MUTEX_NORMAL, PTHREAD_MUTEX_ROBUST, PTHREAD_PRIO_NONE, 1);
  CHECK(pipe(go_pipe) == 0 && pipe(held_pipe) == 0, "pipe");

  int child_pipe[2];
  CHECK(pipe(child_pipe) == 0, "pipe");
  pid_t child = fork();
  if (child == 0) {
    CHECK(pthread_mutex_lock(shared) == 0, "the child cannot lock the shared mutex");
    CHECK(write(child_pipe[1], "c", 1) == 1, "write");
    wait_go(argv[1]);
    _exit(0); /* holding it: the kernel must mark it as its owner's death */
  }
  pthread_t t;
  pthread_create(&t, NULL, holder, NULL);
  char c;
  CHECK(read(held_pipe[0], &c, 1) == 1 && read(child_pipe[0], &c, 1) == 1, "read");
  say_ready();
  wait_go(argv[1]);

  int r;
  CHECK((r = pthread_mutex_trylock(&err)) == EBUSY, "err is not held by the holder: %s", strerror(r));
  CHECK((r = pthread_mutex_unlock(&err)) == EPERM, "the main thread unlocked err: %s", strerror(r));
  CHECK((r = pthread_mutex_trylock(&pi)) == EBUSY, "pi is not held by the holder: %s", strerror(r));
  CHECK((r = pthread_rwlock_tryrdlock(&rw)) == EBUSY, "rw is not write-held: %s", strerror(r));
  CHECK(write(go_pipe[1], "g", 1) == 1, "write");
  pthread_join(t, NULL);
  CHECK((r = timed_lock(&rec)) == 0, "rec after the holder: %s", strerror(r));
  CHECK((r = timed_lock(&err)) == 0, "err after the holder: %s", strerror(r));
  CHECK((r = timed_lock(&rob)) == 0, "rob after the holder: %s", strerror(r));
  CHECK((r = timed_lock(&pi)) == 0, "pi after the holder: %s", strerror(r));
  CHECK((r = pthread_rwlock_trywrlock(&rw)) == 0, "rw after the holder: %s", strerror(r));
  CHECK(mtx_trylock(&cm) == thrd_success, "mtx after the holder");

  int status;
  CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status), "the child did not exit");
  r = timed_lock(shared);
  CHECK(r == EOWNERDEAD, "the shared robust mutex gave %s, not EOWNERDEAD", strerror(r));
  printf("PASS\n");
  fflush(stdout);
  return 0;
}
