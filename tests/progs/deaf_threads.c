/* Two threads block every signal with the raw system call, behind the library's back (as Go's
 * runtime does in its signal thread): one then waits in read() on a pipe, the other spins and
 * looks at its own mask on every turn. A snapshot must stop both from outside and leave each
 * with its mask: the spinner fails at once if it ever sees another, and after the restore the
 * reader gets its byte, sees its mask whole, and the spinner goes on.
 *
 *   deaf_threads DIR */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"
#include "deaf_spinner.h"
#include "wait_go.h"


static int pipefd[2];
static char got;

static uint64_t own_mask(void) {
  uint64_t mask = 0;
  syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &mask, 8);
  return mask;
}

static void deafen(void) {
  uint64_t all = ~0ULL;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, NULL, 8);
}

static void *reader(void *arg) {
  deafen();
  long n;
  do n = read(pipefd[0], &got, 1);
  while (n < 0 && errno == EINTR);
  CHECK(n == 1, "read: %ld, errno %d", n, errno);
  CHECK(own_mask() == ALL_BLOCKED, "the reader's mask is %llx", (unsigned long long)own_mask());
  return arg;
}

static void *spinner(void *arg) {
  deafen();
  spin_deaf(own_mask);
  return arg;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  CHECK(argc == 2, "usage: deaf_threads DIR");
  CHECK(pipe(pipefd) == 0, "pipe: errno %d", errno);
  pthread_t r, s;
  CHECK(pthread_create(&r, NULL, reader, NULL) == 0, "pthread_create");
  CHECK(pthread_create(&s, NULL, spinner, NULL) == 0, "pthread_create");
  while (turns < 1000) usleep(1000);
  say_ready();
  wait_go(argv[1]);
  CHECK(write(pipefd[1], "x", 1) == 1, "write: errno %d", errno);
  CHECK(pthread_join(r, NULL) == 0, "join");
  CHECK(got == 'x', "the reader got %c", got);
  long before = turns;
  usleep(50 * 1000);
  CHECK(turns > before, "the spinner stopped at %ld turns", before);
  printf("PASS\n");
  return 0;
}
