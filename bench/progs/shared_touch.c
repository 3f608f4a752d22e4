/* Maps N MiB of MAP_SHARED | MAP_ANONYMOUS memory that 8 workers fill, each its own eighth,
 * with a pattern; four of them exit, four idle on, and so does the parent, which never touches
 * the memory. The application that the shared-memory benchmark freezes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define WORKERS 8

int main(int argc, char **argv) {
  size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 1024;
  size_t words = mib << 17, part = words / WORKERS;
  uint64_t *p = mmap(NULL, words * 8, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  int *done = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED || done == MAP_FAILED) return 1;
  for (int k = 0; k < WORKERS; k++) {
    if (fork()) continue;
    uint64_t x = 88172645463325252ULL + k;
    for (size_t i = k * part; i < (k + 1) * part; i++)
      x ^= x << 13, x ^= x >> 7, x ^= x << 17, p[i] = x;
    __atomic_add_fetch(done, 1, __ATOMIC_RELEASE);
    if (k < WORKERS / 2) return 0;
    for (;;) pause();
  }
  for (int k = 0; k < WORKERS / 2; k++) wait(NULL); /* the four that exit */
  while (__atomic_load_n(done, __ATOMIC_ACQUIRE) < WORKERS) usleep(1000);
  printf("ready\n");
  fflush(stdout);
  for (;;) pause();
}
