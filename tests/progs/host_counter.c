/* A counter that says where it runs: it forks a child that waits, then prints a rising count
 * with its own pid, its child's pid and its hostname every step (ms, argv[1]). Clones of one
 * image tell themselves apart by hostname and each counts on from the image's count. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  long step_ms = argc > 1 ? atol(argv[1]) : 100;
  pid_t child = fork();
  if (child < 0) return 1;
  if (child == 0)
    for (;;) pause();
  for (long count = 0;; count++) {
    char host[65] = "";
    gethostname(host, sizeof host - 1);
    printf("count %ld pid %d child %d host %s\n", count, getpid(), child, host);
    fflush(stdout);
    struct timespec ts = {step_ms / 1000, (step_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
  }
}
