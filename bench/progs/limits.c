/* This machine's physical limits, beside which Amber's figures are read: memory copy speed
 * (memcpy of a 256 MiB buffer) and sequential write speed to a file (1 GiB, fdatasync), in
 * MB/s, median and minimum time of R rounds; the write through the page cache ("write") and
 * straight to the disk ("direct", O_DIRECT, as a pre-copy writes; left out where the file
 * system refuses it), both ending with fdatasync as a snapshot does. Usage: limits DIR */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void report(const char *name, double bytes, double *secs, int n) {
  qsort(secs, n, sizeof *secs, cmp);
  printf("%s %.0f %.0f\n", name, bytes / secs[n / 2] / 1e6, bytes / secs[0] / 1e6);
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  size_t len = 256u << 20;
  char *a = aligned_alloc(4096, len), *b = aligned_alloc(4096, len);
  memset(a, 1, len);
  memset(b, 2, len);
  double t[7];
  for (int r = 0; r < 7; r++) {
    double t0 = now();
    memcpy(b, a, len);
    t[r] = now() - t0;
  }
  report("memcpy", len, t, 7);
  char path[4096];
  snprintf(path, sizeof path, "%s/limits.bin", argv[1]);
  for (int r = 0; r < 3; r++) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    double t0 = now();
    for (int i = 0; i < 4; i++)
      if (write(fd, a, len) != (ssize_t)len) return 1;
    fdatasync(fd);
    t[r] = now() - t0;
    close(fd);
    unlink(path);
  }
  report("write", 4.0 * len, t, 3);
  int r = 0;
  for (; r < 3; r++) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT, 0600);
    if (fd < 0) break;
    double t0 = now();
    int ok = 1;
    for (int i = 0; i < 4 && ok; i++) ok = write(fd, a, len) == (ssize_t)len;
    ok = ok && fdatasync(fd) == 0;
    t[r] = now() - t0;
    close(fd);
    unlink(path);
    if (!ok) break;
  }
  if (r == 3) report("direct", 4.0 * len, t, 3);
  return 0;
}
