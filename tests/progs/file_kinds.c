/* Descriptors whose path would not name the same thing again. With "proc", the program holds
 * its own /proc/self/status open: it comes back open on the restored process's. With "mqueue",
 * a POSIX message queue: the snapshot must fail naming it, and the program runs on. */
#include <fcntl.h>
#include <mqueue.h>
#include <string.h>

#include "check.h"
#include "wait_go.h"

int main(int argc, char **argv) {
  CHECK(argc == 3, "usage: file_kinds DIR proc|mqueue");
  if (!strcmp(argv[2], "mqueue")) {
    mqd_t q = mq_open("/amber-test-queue", O_CREAT | O_RDWR, 0600, NULL);
    CHECK(q != (mqd_t)-1, "mq_open");
    mq_unlink("/amber-test-queue");
    for (long tick = 0;; tick++) {
      printf("tick %ld\n", tick);
      fflush(stdout);
      usleep(50000);
    }
  }
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
