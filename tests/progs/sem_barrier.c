/* A parent and three children meet at SysV semaphore barriers and add to a counter in a SysV
 * shared-memory segment under a semaphore used as a mutex. The snapshot lands while the
 * children are blocked at a barrier; after the restore they go on, and the total is exact. */
#include <errno.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>

#include "check.h"
#include "wait_go.h"

#define CHILDREN 3
#define ROUNDS 20000
enum { MUTEX, HALFWAY, GATE, DONE, NSEMS };

static int semid, shmid;

static void sem_add(int num, int delta) {
  struct sembuf op = {.sem_num = (unsigned short)num, .sem_op = (short)delta};
  CHECK(semop(semid, &op, 1) == 0, "semop(num %d, %+d): errno %d", num, delta, errno);
}

static void add(volatile long *counter, int times) {
  for (int i = 0; i < times; i++) {
    sem_add(MUTEX, -1);
    *counter = *counter + 1;
    sem_add(MUTEX, 1);
  }
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: sem_barrier DIR");
  semid = semget(IPC_PRIVATE, NSEMS, 0600);
  shmid = shmget(IPC_PRIVATE, 4096, 0600);
  CHECK(semid >= 0 && shmid >= 0, "semget/shmget: errno %d", errno);
  unsigned short init[NSEMS] = {1, 0, 0, 0};
  CHECK(semctl(semid, 0, SETALL, init) == 0, "SETALL");
  volatile long *counter = shmat(shmid, NULL, 0);
  CHECK(counter != (void *)-1, "shmat");
  *counter = 0;
  pid_t kids[CHILDREN];
  for (int c = 0; c < CHILDREN; c++) {
    kids[c] = fork();
    if (kids[c] == 0) {
      add(counter, ROUNDS / 2);
      sem_add(HALFWAY, 1);
      sem_add(GATE, -1); /* blocked here when the snapshot lands */
      add(counter, ROUNDS / 2);
      sem_add(DONE, 1);
      return 0;
    }
  }
  sem_add(HALFWAY, -CHILDREN);
  CHECK(*counter == CHILDREN * ROUNDS / 2, "halfway the counter is %ld", *counter);
  say_ready();
  wait_go(argv[1]);
  sem_add(GATE, CHILDREN);
  sem_add(DONE, -CHILDREN);
  CHECK(*counter == CHILDREN * ROUNDS, "the counter is %ld, expected %d", *counter,
        CHILDREN * ROUNDS);
  for (int c = 0; c < CHILDREN; c++) {
    int status;
    CHECK(waitpid(kids[c], &status, 0) == kids[c] && WIFEXITED(status) && !WEXITSTATUS(status),
          "child %d", c);
  }
  shmdt((void *)counter);
  semctl(semid, 0, IPC_RMID);
  shmctl(shmid, IPC_RMID, NULL);
  printf("PASS\n");
  return 0;
}
