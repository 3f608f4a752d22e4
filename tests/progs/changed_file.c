/* Holds two files open for writing: one written in place (O_RDWR, like a database's data file)
 * and one appended to (O_APPEND, like a log). After the restore, checks that both descriptors
 * are where they were. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "check.h"
#include "wait_go.h"

int main(int argc, char **argv) {
  CHECK(argc == 4, "usage: changed_file DIR DATA LOG");
  int data = open(argv[2], O_RDWR | O_CREAT | O_TRUNC, 0600);
  int log = open(argv[3], O_WRONLY | O_CREAT | O_APPEND, 0600);
  CHECK(data >= 0 && log >= 0, "open: %s", strerror(errno));
  CHECK(write(data, "frozen", 6) == 6 && write(log, "line\n", 5) == 5, "write");
  say_ready();
  wait_go(argv[1]);
  CHECK(lseek(data, 0, SEEK_CUR) == 6, "the data file's offset moved");
  CHECK(write(log, "more\n", 5) == 5, "append");
  printf("PASS\n");
  fflush(stdout);
  return 0;
}
