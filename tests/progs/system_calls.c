/* Runs system() a few times (libc reaps those children itself, around Amber's wrappers), says
 * "ready", and waits: the test then checks that their rows did not stay behind. */
#include <stdlib.h>

#include "check.h"
#include "wait_go.h"

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: system_calls DIR");
  for (int i = 0; i < 5; i++) CHECK(system("true") == 0, "system");
  say_ready();
  wait_go(argv[1]);
  printf("PASS\n");
  return 0;
}
