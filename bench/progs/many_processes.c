/* Starts N processes in all (the first and N-1 children), each touching M MiB, says "ready"
 * once all have, then idles: the application of the process-count benchmark. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 4;
  size_t mib = argc > 2 ? strtoul(argv[2], NULL, 10) : 16;
  int ready[2];
  if (pipe(ready)) return 1;
  for (int i = 1; i < n; i++) {
    if (fork() == 0) {
      char *p = malloc(mib << 20);
      memset(p, i, mib << 20);
      if (write(ready[1], "x", 1) != 1) return 1;
      for (;;) pause();
    }
  }
  char *p = malloc(mib << 20);
  memset(p, 0xa5, mib << 20);
  for (int i = 1; i < n; i++) {
    char c;
    if (read(ready[0], &c, 1) != 1) return 1;
  }
  printf("ready\n");
  fflush(stdout);
  for (;;) pause();
}
