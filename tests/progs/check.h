/* The one helper every test program shares: a check that reports and stops. Programs print
 * "PASS" when every check held. */
#ifndef AMBER_TEST_CHECK_H
#define AMBER_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond, ...)                                                                          \
  do {                                                                                          \
    if (!(cond)) {                                                                              \
      printf("FAIL: %s:%d: ", __FILE__, __LINE__);                                              \
      printf(__VA_ARGS__);                                                                      \
      printf("\n");                                                                             \
      fflush(stdout);                                                                           \
      exit(1);                                                                                  \
    }                                                                                           \
  } while (0)

#endif
