/* SEM_UNDO adjustments survive a restore: a child takes 2 from a semaphore with SEM_UNDO; after
 * the restore it exits, and the kernel gives the 2 back, as it would have without the restore. */
#include <errno.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/wait.h>

#include "check.h"
#include "wait_go.h"

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: sem_undo DIR");
  int semid = semget(IPC_PRIVATE, 1, 0600);
  CHECK(semid >= 0, "semget");
  CHECK(semctl(semid, 0, SETVAL, 5) == 0, "SETVAL");
  int taken[2];
  CHECK(pipe(taken) == 0, "pipe");
  pid_t child = fork();
  if (child == 0) {
    struct sembuf take = {0, -2, SEM_UNDO};
    CHECK(semop(semid, &take, 1) == 0, "semop: errno %d", errno);
    CHECK(write(taken[1], "x", 1) == 1, "tell");
    wait_go(argv[1]);
    return 0; /* the kernel undoes the -2 now */
  }
  char c;
  CHECK(read(taken[0], &c, 1) == 1, "wait for the child");
  CHECK(semctl(semid, 0, GETVAL) == 3, "the value is %d before", semctl(semid, 0, GETVAL));
  say_ready();
  wait_go(argv[1]);
  int status;
  CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && !WEXITSTATUS(status), "child");
  int value = semctl(semid, 0, GETVAL);
  semctl(semid, 0, IPC_RMID);
  CHECK(value == 5, "after the child's exit the value is %d, not 5: its SEM_UNDO was lost", value);
  printf("PASS\n");
  return 0;
}
