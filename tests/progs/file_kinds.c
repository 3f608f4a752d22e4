/* Descriptors whose path would not name the same thing again. With "proc", the program holds
 * its own /proc/self/status open: it comes back open on the restored process's. (POSIX message
 * queues are mq_state.c's.) */
#include <fcntl.h>
#include <string.h>

#include "check.h"
#include "wait_go.h"

int main(int argc, char **argv) {
  CHECK(argc == 3, "usage: file_kinds DIR proc");
  int fd = open("/proc/self/status", O_RDONLY);
  CHECK(fd >= 0, "open /proc/self/status");
  say_ready();
  wait_go(argv[1]);
  char text[4096];
  ssize_t n = pread(fd, text, sizeof text - 1, 0);
  CHECK(n > 0, "read the status after restore");
  text[n] = 0;
  CHECK(strstr(text, "Name:"), "not a status file");
  printf("PASS\n");
  return 0;
}
