/* Prints a rising counter every 100 ms, forever: the sample program of the README's demo and
 * the simplest snapshot test. The count lives in memory only, so a restored counter that goes
 * on from where it was (not from 0) shows the memory came back. */
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
  long step_ms = argc > 1 ? atol(argv[1]) : 100;
  for (long count = 0;; count++) {
    printf("count %ld pid %d\n", count, getpid());
    fflush(stdout);
    struct timespec ts = {step_ms / 1000, (step_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
  }
}
