/* A program that maps a file of its own privately and changes a page of it: after the restore
 * the page it changed is its own version, the rest is the file's. */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>

#include "check.h"
#include "wait_go.h"

int main(int argc, char **argv) {
  CHECK(argc == 3, "usage: mapped_file DIR FILE");
  int fd = open(argv[2], O_RDONLY);
  CHECK(fd >= 0, "open %s", argv[2]);
  char *p = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  CHECK(p != MAP_FAILED, "mmap");
  close(fd);
  memcpy(p + 4096, "mine", 4);
  say_ready();
  wait_go(argv[1]);
  CHECK(p[0] == 'a' && p[2 * 4096] == 'c', "the file's pages are not the file's");
  CHECK(!memcmp(p + 4096, "mine", 4), "the changed page was lost");
  printf("PASS\n");
  return 0;
}
