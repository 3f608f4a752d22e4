/* Writes a file in place through a shared mapping whose descriptor it closed (a store that maps
 * its data file and keeps no descriptor): a record count in the file, and the same count in its
 * own memory, raised together every few ms. After a restore, the file must hold the count its
 * memory has. Says "ready", counts until DIR/go, then prints PASS, or FAIL and exits 1.
 *
 *   mapped_in_place DIR FILE */
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "wait_go.h"

int main(int argc, char **argv) {
  CHECK(argc == 3, "usage: mapped_in_place DIR FILE");
  int fd = open(argv[2], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  CHECK(fd >= 0 && ftruncate(fd, 4096) == 0, "cannot make %s: %m", argv[2]);
  volatile uint64_t *file = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(file != MAP_FAILED, "mmap: %m");
  close(fd);
  uint64_t count = 0;
  say_ready();
  while (!go_exists(argv[1])) {
    CHECK(file[0] == count, "the file holds %llu records, its memory %llu",
          (unsigned long long)file[0], (unsigned long long)count);
    file[0] = ++count;
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, 0);
  }
  CHECK(file[0] == count, "the file holds %llu records, its memory %llu",
        (unsigned long long)file[0], (unsigned long long)count);
  printf("PASS\n");
  return 0;
}
