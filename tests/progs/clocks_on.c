/* The clocks a program measures time with go on across a restore: CLOCK_MONOTONIC and
 * CLOCK_BOOTTIME, read every 10 ms, must never read less than before (a deadline computed from
 * them would be as far away as they went back). "ready" once running; PASS once DIR/go exists.
 *
 *   clocks_on DIR */
#include <time.h>

#include "check.h"
#include "wait_go.h"

static double seconds(clockid_t clock) {
  struct timespec ts;
  CHECK(clock_gettime(clock, &ts) == 0, "clock_gettime");
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: clocks_on DIR");
  double last_monotonic = seconds(CLOCK_MONOTONIC), last_boottime = seconds(CLOCK_BOOTTIME);
  printf("monotonic %.3f\n", last_monotonic);
  say_ready();
  while (!go_exists(argv[1])) {
    struct timespec tick = {0, 10 * 1000 * 1000};
    nanosleep(&tick, NULL);
    double monotonic = seconds(CLOCK_MONOTONIC), boottime = seconds(CLOCK_BOOTTIME);
    CHECK(monotonic >= last_monotonic, "CLOCK_MONOTONIC went back from %.3f to %.3f",
          last_monotonic, monotonic);
    CHECK(boottime >= last_boottime, "CLOCK_BOOTTIME went back from %.3f to %.3f", last_boottime,
          boottime);
    last_monotonic = monotonic, last_boottime = boottime;
  }
  printf("monotonic %.3f\n", last_monotonic);
  printf("PASS\n");
  return 0;
}
