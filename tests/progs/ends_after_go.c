/* Says ready, waits for <dir>/go, then ends as told: "signal" (SIGTERM, default action) or
 * "exit" (status 3). For the tests of how an ended application's status is reported.
 *
 *   ends_after_go DIR signal|exit */
#include <signal.h>
#include <string.h>

#include "check.h"
#include "wait_go.h"

int main(int argc, char **argv) {
  CHECK(argc == 3, "usage: ends_after_go DIR signal|exit");
  say_ready();
  wait_go(argv[1]);
  if (!strcmp(argv[2], "signal")) raise(SIGTERM);
  return 3;
}
