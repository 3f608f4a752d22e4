/* What a check of each page's hash at its first touch would cost a lazy restore: first touches
 * of N MiB of pages (read, then written, as a program's first access) mapped MAP_PRIVATE from a
 * file in the page cache (what `--lazy` does now: the kernel serves each fault), against the
 * same pages served by a userfaultfd handler thread that reads each page from the file, checks
 * its XXH64 and places it (UFFDIO_COPY) (the only way to check a page before the program sees
 * it), and the hash alone. Prints "<what> <ns per page>" lines.
 *
 * Usage: fault_check DIR [MiB] (default 256). */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../../csrc/common/hash.c"

#define PAGE 4096

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

static int file_fd, uffd;
static uint64_t *hashes;
static char *area;
static volatile int bad;

/* Serves each missing page: read from the file, checked, copied in. */
static void *handler(void *arg) {
  static char page[PAGE] __attribute__((aligned(PAGE)));
  for (;;) {
    struct pollfd p = {uffd, POLLIN, 0};
    if (poll(&p, 1, -1) < 0) continue;
    struct uffd_msg msg;
    if (read(uffd, &msg, sizeof msg) != sizeof msg) continue;
    if (msg.event != UFFD_EVENT_PAGEFAULT) continue;
    uint64_t addr = msg.arg.pagefault.address & ~(uint64_t)(PAGE - 1);
    uint64_t index = (addr - (uint64_t)area) / PAGE;
    if (pread(file_fd, page, PAGE, (off_t)(index * PAGE)) != PAGE) bad = 1;
    struct amber_hash h;
    amber_hash_init(&h);
    amber_hash_update(&h, page, PAGE);
    if (amber_hash_final(&h) != hashes[index]) bad = 1;
    struct uffdio_copy copy = {addr, (uint64_t)page, PAGE, 0, 0};
    if (ioctl(uffd, UFFDIO_COPY, &copy) && errno != EEXIST) bad = 1;
  }
  return arg;
}

/* First touches of every page: a read, then a write. */
static double touch(char *mem, size_t pages) {
  volatile uint64_t sum = 0;
  double t0 = now_ns();
  for (size_t i = 0; i < pages; i++) sum += mem[i * PAGE], mem[i * PAGE + 8] = 1;
  return (now_ns() - t0) / (double)pages;
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  size_t mib = argc > 2 ? strtoul(argv[2], NULL, 10) : 256, pages = mib * 256;
  char path[4096];
  snprintf(path, sizeof path, "%s/fault_check.data", argv[1]);
  file_fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  hashes = malloc(pages * 8);
  static char page[PAGE];
  uint64_t x = 88172645463325252ULL;
  for (size_t i = 0; i < pages; i++) {
    for (int w = 0; w < PAGE / 8; w++) x ^= x << 13, x ^= x >> 7, x ^= x << 17, ((uint64_t *)page)[w] = x;
    struct amber_hash h;
    amber_hash_init(&h);
    amber_hash_update(&h, page, PAGE);
    hashes[i] = amber_hash_final(&h);
    if (write(file_fd, page, PAGE) != PAGE) return 1;
  }
  fsync(file_fd);
  unlink(path);
  /* Warm the page cache, as a lazy restore's image usually is. */
  for (size_t i = 0; i < pages; i++)
    if (pread(file_fd, page, PAGE, (off_t)(i * PAGE)) != PAGE) return 1;

  char *mapped = mmap(0, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, file_fd, 0);
  printf("mapped %.0f\n", touch(mapped, pages));

  uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | 1 /* UFFD_USER_MODE_ONLY */);
  if (uffd < 0) uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
  struct uffdio_api api = {UFFD_API, 0, 0};
  if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api)) return 1;
  area = mmap(0, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  struct uffdio_register reg = {{(uint64_t)area, pages * PAGE}, UFFDIO_REGISTER_MODE_MISSING, 0};
  if (ioctl(uffd, UFFDIO_REGISTER, &reg)) return 1;
  pthread_t t;
  pthread_create(&t, NULL, handler, NULL);
  printf("checked %.0f\n", touch(area, pages));
  if (bad) return 1;

  double t0 = now_ns();
  uint64_t all = 0;
  for (size_t i = 0; i < pages; i++) {
    struct amber_hash h;
    amber_hash_init(&h);
    amber_hash_update(&h, mapped + i * PAGE, PAGE);
    all ^= amber_hash_final(&h);
  }
  printf("hash %.0f\n", (now_ns() - t0) / (double)pages + (all == 1));
  return 0;
}
