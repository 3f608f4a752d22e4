/* Memory where Amber's restorer must be loaded (0x100000000000, a static program at a fixed
 * address): a restore could not bring it back, so a snapshot must refuse, naming the process and
 * the address, before anything is ended. Maps a page there, writes a count into it and prints
 * "tick <n>" every 50 ms, the count read back from that page: a snapshot that refused lets it go
 * on counting.
 *
 *   restorer_spot */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <time.h>

#include "check.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

int main(void) {
  void *want = (void *)0x100000000000ULL;
  volatile uint64_t *page = mmap(want, 4096, PROT_READ | PROT_WRITE,
                                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  CHECK(page == want, "mmap at %p: errno %d", want, errno);
  printf("ready\n");
  fflush(stdout);
  for (*page = 0;; (*page)++) {
    printf("tick %llu\n", (unsigned long long)*page);
    fflush(stdout);
    struct timespec ts = {0, 50 * 1000000L};
    nanosleep(&ts, NULL);
  }
}
