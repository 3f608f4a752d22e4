/* What each way of taking a copy-on-write view of N MiB of private memory (4 KiB pages, or
 * transparent huge pages with a second argument "thp") costs while the process is stopped:
 * fork (the page tables copied), userfaultfd write-protection (UFFDIO_WRITEPROTECT over the
 * range), and reading /proc/self/smaps (a walk of every page table, which the copy-on-write
 * snapshot's freeze avoids). Run: build/bench/cow_cost 1024 [thp]; see
 * docs/snapshot-protocol.md for why Amber forks. */
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static char buf[1 << 20];

int main(int argc, char **argv) {
  size_t bytes = (argc > 1 ? strtoul(argv[1], NULL, 10) : 1024) << 20;
  int thp = argc > 2 && !strcmp(argv[2], "thp");
  char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return 1;
  if (thp) madvise(p, bytes, MADV_HUGEPAGE);
  for (size_t i = 0; i < bytes; i += 4096) p[i] = (char)i;
  for (int round = 0; round < 3; round++) {
    double t0 = now_ms();
    pid_t child = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (child == 0) _exit(0);
    double t1 = now_ms();
    waitpid(child, NULL, 0);
    int fd = open("/proc/self/smaps", O_RDONLY);
    double t2 = now_ms();
    while (read(fd, buf, sizeof buf) > 0) {}
    double t3 = now_ms();
    close(fd);
    printf("fork %.1f ms   smaps %.1f ms\n", t1 - t0, t3 - t2);
  }
  int uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
  struct uffdio_api api = {.api = UFFD_API, .features = UFFD_FEATURE_PAGEFAULT_FLAG_WP};
  struct uffdio_register reg = {.range = {(uintptr_t)p, bytes}, .mode = UFFDIO_REGISTER_MODE_WP};
  if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) || ioctl(uffd, UFFDIO_REGISTER, &reg)) {
    perror("userfaultfd");
    return 0;
  }
  for (int round = 0; round < 3; round++) {
    struct uffdio_writeprotect wp = {.range = {(uintptr_t)p, bytes},
                                     .mode = UFFDIO_WRITEPROTECT_MODE_WP};
    double t0 = now_ms();
    if (ioctl(uffd, UFFDIO_WRITEPROTECT, &wp)) perror("UFFDIO_WRITEPROTECT");
    double t1 = now_ms();
    wp.mode = 0;
    ioctl(uffd, UFFDIO_WRITEPROTECT, &wp);
    printf("userfaultfd write-protect %.1f ms\n", t1 - t0);
  }
  return 0;
}
