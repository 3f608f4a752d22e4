/* Two processes of one application share a semaphore set and a shared-memory segment by
 * virtual ID: each adds 1 to a counter in the segment 10000 times under a semaphore used as a
 * mutex, and the total must be 20000. Also checks the translated pids (shm_cpid, GETPID), the
 * *_STAT index commands, lookups by key, and that unknown virtual IDs fail with EINVAL.
 *
 *   sysv_sem_shm [GO_FILE]
 * prints "ids sem=<semid> shm=<shmid>" and "READY" while a child is blocked in semop, then
 * (with GO_FILE) waits up to 60 s for that file to exist, so that a test can look at the system,
 * snapshot or restore meanwhile. Then it checks the counter and the semaphores again, wakes the
 * blocked child (which must not have seen EINTR), removes its objects and prints "PASS". */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define VIPC_BASE 1000000
#define VPID_BASE 4200000
#define UNKNOWN_ID 1000999
#define ROUNDS 10000

union semun {
  int val;
  struct semid_ds *buf;
  unsigned short *array;
  struct seminfo *__buf;
};

static int semid = -1, shmid = -1, keyed = -1;

/* SysV objects outlive processes: a failed check must not leave them behind. */
static void remove_objects(void) {
  if (shmid >= 0) shmctl(shmid, IPC_RMID, NULL);
  if (semid >= 0) semctl(semid, 0, IPC_RMID);
  if (keyed >= 0) semctl(keyed, 0, IPC_RMID);
}

static void sem_add(int num, int delta) {
  struct sembuf op = {.sem_num = (unsigned short)num, .sem_op = (short)delta, .sem_flg = 0};
  int r;
  while ((r = semop(semid, &op, 1)) < 0 && errno == EINTR) {}
  CHECK(r == 0, "semop(%d, num %d, %+d): errno %d", semid, num, delta, errno);
}

/* Adds 1 to the shared counter ROUNDS times, under semaphore 0. */
static void count(volatile long *counter) {
  for (int i = 0; i < ROUNDS; i++) {
    sem_add(0, -1);
    long v = *counter;
    if ((i & 255) == 0) sched_yield(); /* widen the window a missing mutex would show */
    *counter = v + 1;
    sem_add(0, 1);
  }
}

static key_t random_key(void) {
  unsigned int k = 0;
  int fd = open("/dev/urandom", O_RDONLY);
  CHECK(fd >= 0 && read(fd, &k, sizeof k) == sizeof k, "cannot read /dev/urandom");
  close(fd);
  return (key_t)((k & 0x3fffffff) | 0x40000000);
}

static void wait_for(const char *path) {
  for (int i = 0; i < 6000 && access(path, F_OK) != 0; i++) usleep(10000);
}

/* The *_STAT commands take a kernel index and give back a virtual ID, or EINVAL for objects
 * of other applications; this application's own object must be among those found. */
static void check_stat_by_index(void) {
  struct shm_info sinfo;
  int max = shmctl(0, SHM_INFO, (struct shmid_ds *)&sinfo);
  CHECK(max >= 0, "shmctl SHM_INFO: errno %d", errno);
  int found = 0;
  for (int i = 0; i <= max; i++) {
    struct shmid_ds ds;
    int id = shmctl(i, SHM_STAT, &ds);
    if (id < 0) {
      CHECK(errno == EINVAL || errno == EACCES, "SHM_STAT %d: errno %d", i, errno);
      continue;
    }
    CHECK(id >= VIPC_BASE, "SHM_STAT %d returned %d, not a virtual ID", i, id);
    if (id == shmid) found = 1;
  }
  CHECK(found, "SHM_STAT over indexes 0..%d never returned shmid %d", max, shmid);

  struct seminfo minfo;
  max = semctl(0, 0, SEM_INFO, (union semun){.__buf = &minfo});
  CHECK(max >= 0, "semctl SEM_INFO: errno %d", errno);
  found = 0;
  for (int i = 0; i <= max; i++) {
    struct semid_ds ds;
    int id = semctl(i, 0, SEM_STAT, (union semun){.buf = &ds});
    if (id < 0) {
      CHECK(errno == EINVAL || errno == EACCES, "SEM_STAT %d: errno %d", i, errno);
      continue;
    }
    CHECK(id >= VIPC_BASE, "SEM_STAT %d returned %d, not a virtual ID", i, id);
    if (id == semid) {
      found = 1;
      CHECK(ds.sem_nsems == 2, "SEM_STAT: %lu semaphores", (unsigned long)ds.sem_nsems);
    }
  }
  CHECK(found, "SEM_STAT over indexes 0..%d never returned semid %d", max, semid);
}

static void check_unknown_ids(void) {
  struct sembuf op = {.sem_num = 0, .sem_op = 1, .sem_flg = 0};
  errno = 0;
  CHECK(semop(UNKNOWN_ID, &op, 1) == -1 && errno == EINVAL, "semop on %d: errno %d",
        UNKNOWN_ID, errno);
  errno = 0;
  CHECK(semctl(UNKNOWN_ID, 0, GETVAL) == -1 && errno == EINVAL, "semctl on %d: errno %d",
        UNKNOWN_ID, errno);
  errno = 0;
  CHECK(shmat(UNKNOWN_ID, NULL, 0) == (void *)-1 && errno == EINVAL, "shmat on %d: errno %d",
        UNKNOWN_ID, errno);
  struct shmid_ds ds;
  errno = 0;
  CHECK(shmctl(UNKNOWN_ID, IPC_STAT, &ds) == -1 && errno == EINVAL, "shmctl on %d: errno %d",
        UNKNOWN_ID, errno);
}

/* Two semget calls with one key, in two processes, name the same virtual ID; after IPC_RMID
 * the ID is unknown. */
static void check_key_lookup(void) {
  key_t key = random_key();
  int a = keyed = semget(key, 1, IPC_CREAT | IPC_EXCL | 0600);
  CHECK(a >= VIPC_BASE, "semget(key %#x, IPC_CREAT|IPC_EXCL) = %d, errno %d", key, a, errno);
  int b = semget(key, 0, 0);
  CHECK(b == a, "semget of an existing key gave %d, expected %d", b, a);
  pid_t child = fork();
  CHECK(child >= 0, "fork: errno %d", errno);
  if (child == 0) {
    int c = semget(key, 0, 0);
    CHECK(c == a, "semget of an existing key in the child gave %d, expected %d", c, a);
    _exit(0);
  }
  int status;
  CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "key lookup child failed (status %#x)", status);
  CHECK(semctl(a, 0, IPC_RMID) == 0, "IPC_RMID of %d: errno %d", a, errno);
  keyed = -1;
  errno = 0;
  CHECK(semctl(a, 0, GETVAL) == -1 && errno == EINVAL, "semid %d after IPC_RMID: errno %d", a,
        errno);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  atexit(remove_objects);
  semid = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
  CHECK(semid >= 0, "semget: errno %d", errno);
  shmid = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
  CHECK(shmid >= 0, "shmget: errno %d", errno);
  printf("ids sem=%d shm=%d\n", semid, shmid);
  CHECK(semid >= VIPC_BASE, "semid %d is not a virtual ID", semid);
  CHECK(shmid >= VIPC_BASE, "shmid %d is not a virtual ID", shmid);

  CHECK(semctl(semid, 0, SETVAL, (union semun){.val = 1}) == 0, "SETVAL: errno %d", errno);
  volatile long *counter = shmat(shmid, NULL, 0);
  CHECK(counter != (void *)-1, "shmat: errno %d", errno);
  *counter = 0;

  struct shmid_ds ds;
  CHECK(shmctl(shmid, IPC_STAT, &ds) == 0, "IPC_STAT: errno %d", errno);
  CHECK(ds.shm_cpid == getpid(), "shm_cpid %d, expected the creator's virtual pid %d",
        (int)ds.shm_cpid, (int)getpid());
  CHECK(ds.shm_lpid == getpid(), "shm_lpid %d, expected %d", (int)ds.shm_lpid, (int)getpid());
  CHECK(ds.shm_segsz == 4096, "shm_segsz %zu", (size_t)ds.shm_segsz);

  pid_t child = fork();
  CHECK(child >= 0, "fork: errno %d", errno);
  if (child == 0) {
    count(counter);
    /* Semaphore 1 is touched by the child alone: its last operator is the child. */
    sem_add(1, 1);
    int last = semctl(semid, 1, GETPID);
    CHECK(last == getpid(), "child: GETPID %d, expected its virtual pid %d", last, (int)getpid());
    shmdt((void *)counter);
    _exit(0);
  }
  count(counter);
  int status;
  CHECK(waitpid(child, &status, 0) == child, "waitpid: errno %d", errno);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed (status %#x)", status);
  CHECK(*counter == 2 * ROUNDS, "counter %ld, expected %d", *counter, 2 * ROUNDS);
  CHECK(semctl(semid, 1, GETVAL) == 1, "semaphore 1 is %d", semctl(semid, 1, GETVAL));

  sem_add(0, -1);
  sem_add(0, 1);
  int last = semctl(semid, 0, GETPID);
  printf("getpid=%d GETPID=%d\n", (int)getpid(), last);
  CHECK(last >= VPID_BASE && last == getpid(), "GETPID %d, expected the virtual pid %d", last,
        (int)getpid());

  check_stat_by_index();
  check_unknown_ids();
  check_key_lookup();

  /* A process blocked in semop across whatever the test does meanwhile (a snapshot, a
   * restore): it waits for semaphore 1 to reach 2, which happens only after GO, and a
   * checkpoint must not show it an EINTR. */
  pid_t blocked = fork();
  CHECK(blocked >= 0, "fork: errno %d", errno);
  if (blocked == 0) {
    struct sembuf op = {.sem_num = 1, .sem_op = -2, .sem_flg = 0};
    int r = semop(semid, &op, 1);
    CHECK(r == 0, "the blocked semop returned %d, errno %d", r, errno);
    _exit(0);
  }
  for (int i = 0; i < 5000 && semctl(semid, 1, GETNCNT) < 1; i++) usleep(1000);
  CHECK(semctl(semid, 1, GETNCNT) == 1, "the child does not wait on semaphore 1");

  printf("READY\n");
  if (argc > 1) wait_for(argv[1]);

  CHECK(*counter == 2 * ROUNDS, "after GO: counter %ld, expected %d", *counter, 2 * ROUNDS);
  CHECK(semctl(semid, 0, GETVAL) == 1, "after GO: semaphore 0 is %d", semctl(semid, 0, GETVAL));
  CHECK(semctl(semid, 1, GETVAL) == 1, "after GO: semaphore 1 is %d", semctl(semid, 1, GETVAL));
  sem_add(1, 1);
  CHECK(waitpid(blocked, &status, 0) == blocked, "waitpid: errno %d", errno);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the blocked child failed (status %#x)",
        status);
  CHECK(semctl(semid, 1, GETVAL) == 0, "semaphore 1 is %d", semctl(semid, 1, GETVAL));

  CHECK(shmdt((void *)counter) == 0, "shmdt: errno %d", errno);
  CHECK(shmctl(shmid, IPC_RMID, NULL) == 0, "shm IPC_RMID: errno %d", errno);
  CHECK(semctl(semid, 0, IPC_RMID) == 0, "sem IPC_RMID: errno %d", errno);
  errno = 0;
  CHECK(shmctl(shmid, IPC_STAT, &ds) == -1 && errno == EINVAL, "shmid after IPC_RMID: errno %d",
        errno);
  printf("PASS\n");
  return 0;
}
