/* A descriptor whose SIGIO goes to a process outside the application (set with a raw system
 * call, which Amber's wrappers do not see): a snapshot must refuse it, naming the descriptor
 * and the process. Says "ready", then ticks until <dir>/go. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/syscall.h>

#include "check.h"
#include "wait_go.h"

static long raw3(long nr, long a, long b, long c) {
  long r;
  __asm__ volatile("syscall" : "=a"(r) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return r;
}

int main(int argc, char **argv) {
  CHECK(argc == 3, "usage: owner_outside DIR PID");
  setvbuf(stdout, NULL, _IOLBF, 0);
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  CHECK(raw3(SYS_fcntl, p[0], F_SETOWN, atoi(argv[2])) == 0, "raw F_SETOWN");
  say_ready();
  char go[4096];
  snprintf(go, sizeof go, "%s/go", argv[1]);
  for (int i = 1; access(go, F_OK) != 0; i++) {
    printf("tick %d\n", i);
    usleep(20000);
  }
  printf("PASS\n");
  return 0;
}
