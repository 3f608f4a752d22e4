/* A program with a POSIX timer (timer_create): Amber cannot save one yet, so a snapshot must
 * fail naming it, and the program must run on. */
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

int main(void) {
  timer_t timer;
  struct sigevent ev = {.sigev_notify = SIGEV_NONE};
  CHECK(timer_create(CLOCK_MONOTONIC, &ev, &timer) == 0, "timer_create");
  for (long tick = 0;; tick++) {
    printf("tick %ld\n", tick);
    fflush(stdout);
    usleep(50000);
  }
}
