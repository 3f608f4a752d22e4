/* The control library's monotonic clock (the preload library has its own, amber_monotonic_ns,
 * made with raw system calls for its signal handler). */
#ifndef AMBER_CTL_CLOCK_H
#define AMBER_CTL_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t amber_ctl_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int64_t amber_ctl_now_ms(void) { return amber_ctl_now_ns() / 1000000; }

#endif
