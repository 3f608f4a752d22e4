/* A child maps a part of a shared memfd that its parent, which saves the memfd's pages, does
 * not map: the snapshot must be refused, naming the child, rather than lose that part. */
#include <string.h>
#include <sys/mman.h>

#include "check.h"
#include "wait_go.h"

#define MIB (1UL << 20)

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: shared_partial DIR");
  int fd = memfd_create("partial", 0);
  CHECK(fd >= 0 && ftruncate(fd, 2 * MIB) == 0, "memfd");
  char *low = mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(low != MAP_FAILED, "mmap");
  memset(low, 1, MIB);
  if (fork() == 0) {
    char *high = mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, MIB);
    CHECK(high != MAP_FAILED, "mmap high");
    close(fd);
    memset(high, 2, MIB);
    printf("ready\n");
    fflush(stdout);
    wait_go(argv[1]);
    return 0;
  }
  close(fd);
  wait_go(argv[1]);
  return 0;
}
