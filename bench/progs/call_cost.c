/* Times N calls of getpid() (a wrapper that answers from the library's memory), kill(pid, 0)
 * (a pid translated in, through the table), semop() (a SysV ID translated in), read() of
 * one byte (a wrapper that only checks whether the descriptor is a signalfd), getsockopt()
 * of SO_TYPE (a wrapper that only checks for SO_PEERCRED) and a byte written then taken with
 * recvmsg() (a wrapper that only checks for control data), a plain and a recursive mutex
 * locked and unlocked (wrappers that list only locks naming their owner): prints nanoseconds per call,
 * median and minimum of R rounds. Run plain and under Amber. */
#include <pthread.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/sem.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 15
#define CALLS 200000

#include "per_call.h"

static int semid, zero, pair[2];
static pid_t self;
static void call_getpid(void) { (void)getpid(); }
static void call_kill(void) { kill(self, 0); }
static void call_read(void) {
  char c;
  if (read(zero, &c, 1) != 1) abort();
}
static void call_getsockopt(void) {
  int type;
  socklen_t len = sizeof type;
  if (getsockopt(pair[0], SOL_SOCKET, SO_TYPE, &type, &len) != 0) abort();
}
static void call_recvmsg(void) {
  char c = 'x';
  struct iovec iov = {&c, 1};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  if (write(pair[1], &c, 1) != 1 || recvmsg(pair[0], &msg, 0) != 1) abort();
}
static void call_semop(void) {
  struct sembuf ops[2] = {{0, 1, 0}, {0, -1, 0}};
  semop(semid, ops, 2);
}

static pthread_mutex_t plain_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t recursive_mutex = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static void call_mutex(void) {
  pthread_mutex_lock(&plain_mutex);
  pthread_mutex_unlock(&plain_mutex);
}
static void call_recursive(void) {
  pthread_mutex_lock(&recursive_mutex);
  pthread_mutex_unlock(&recursive_mutex);
}

int main(void) {
  self = getpid();
  semid = semget(IPC_PRIVATE, 1, 0600);
  if (semid < 0) return 1;
  measure("getpid", call_getpid);
  measure("kill", call_kill);
  measure("semop", call_semop);
  zero = open("/dev/zero", O_RDONLY);
  measure("read", call_read);
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) return 1;
  measure("getsockopt", call_getsockopt);
  measure("recvmsg", call_recvmsg);
  measure("mutex", call_mutex);
  measure("recursive", call_recursive);
  semctl(semid, 0, IPC_RMID);
  return 0;
}
