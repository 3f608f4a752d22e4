/* A pre-forking server: workers share a MAP_SHARED | MAP_ANONYMOUS page with their parent.
 * After the restore the page is still one page: what a worker writes, the parent sees. */
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "check.h"
#include "wait_go.h"

#define WORKERS 3
struct shared {
  atomic_long served[WORKERS];
  atomic_int done[WORKERS];
  long pattern[512];
};

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: prefork_shared DIR");
  struct shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                           -1, 0);
  CHECK(sh != MAP_FAILED, "mmap");
  for (int i = 0; i < 512; i++) sh->pattern[i] = i * 7919L;
  pid_t kids[WORKERS];
  for (int w = 0; w < WORKERS; w++) {
    kids[w] = fork();
    if (kids[w] == 0) {
      for (int i = 0; i < 100; i++) sh->served[w]++;
      wait_go(argv[1]);
      for (int i = 0; i < 512; i++) CHECK(sh->pattern[i] == i * 7919L, "pattern lost");
      for (int i = 0; i < 1000; i++) sh->served[w]++;
      sh->done[w] = 1;
      return 0;
    }
  }
  for (int w = 0; w < WORKERS; w++)
    while (sh->served[w] < 100) usleep(1000);
  say_ready();
  wait_go(argv[1]);
  for (int w = 0; w < WORKERS; w++) {
    int status;
    CHECK(waitpid(kids[w], &status, 0) == kids[w] && WIFEXITED(status) && !WEXITSTATUS(status),
          "worker %d failed", w);
    CHECK(sh->done[w] == 1, "the parent does not see worker %d's writes", w);
    CHECK(sh->served[w] == 1100, "worker %d served %ld", w, (long)sh->served[w]);
  }
  printf("PASS\n");
  return 0;
}
