/* What the per-call benchmarks share: time CALLS calls of a function, ROUNDS times, and print
 * "name median min" in nanoseconds per call, the line bench/translation_cost.ts and
 * bench/seccomp_cost.ts read. Define ROUNDS and CALLS before including it. */
#ifndef AMBER_BENCH_PER_CALL_H
#define AMBER_BENCH_PER_CALL_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void measure(const char *name, void (*fn)(void)) {
  double per[ROUNDS];
  for (int r = 0; r < ROUNDS; r++) {
    double t0 = now();
    for (int i = 0; i < CALLS; i++) fn();
    per[r] = (now() - t0) / CALLS;
  }
  qsort(per, ROUNDS, sizeof per[0], cmp);
  printf("%s %.1f %.1f\n", name, per[ROUNDS / 2], per[0]);
}

#endif
