/* A daemon that shuts itself in a directory, as haproxy, unbound or vsftpd do: chroot(DIR/jail)
 * after it started (the library is loaded already), then "ready"; it says PASS once /go is in
 * its jail (DIR/jail/go from outside). A snapshot must refuse it: a restore would bring it back
 * seeing the whole file system. */
#include <stdio.h>
#include <unistd.h>

#include "check.h"

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: chroot_self DIR");
  char jail[4096];
  snprintf(jail, sizeof jail, "%s/jail", argv[1]);
  CHECK(chroot(jail) == 0 && chdir("/") == 0, "chroot %s", jail);
  printf("ready\n");
  fflush(stdout);
  while (access("/go", F_OK)) usleep(20 * 1000);
  CHECK(access(jail, F_OK) != 0, "the jail's path is seen from inside it");
  printf("PASS\n");
  fflush(stdout);
  return 0;
}
