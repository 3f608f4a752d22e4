/* A runtime's reservation: 1 TiB of PROT_NONE address space, MAP_NORESERVE, of which a little
 * is committed (mprotect to read-write) and written, here and there; and 1 TiB of read-write
 * MAP_NORESERVE memory, a few pages of it written; and 64 GiB of shared memory, a few pages of
 * it written by a child that has exited (found with SEEK_DATA, as it is large). The snapshot
 * must cost nothing for the untouched terabytes, and the restore must map them back. */
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "check.h"
#include "wait_go.h"

#define TIB (1ULL << 40)
#define CHUNK (4ULL << 20)

static const uint64_t at[] = {0, 1ULL << 30, 300ULL << 30, TIB - CHUNK};
static const uint64_t shared_at[] = {0, 1ULL << 30, (63ULL << 30) + 4096};

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: reservation DIR");
  char *base = mmap(NULL, TIB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  CHECK(base != MAP_FAILED, "mmap 1 TiB");
  for (int k = 0; k < 4; k++) {
    CHECK(mprotect(base + at[k], CHUNK, PROT_READ | PROT_WRITE) == 0, "mprotect");
    uint64_t *p = (uint64_t *)(base + at[k]);
    for (uint64_t w = 0; w < CHUNK / 8; w += 512) p[w] = at[k] + w;
  }
  uint64_t *sparse = mmap(NULL, TIB, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  CHECK(sparse != MAP_FAILED, "mmap 1 TiB read-write");
  for (int k = 0; k < 4; k++) sparse[at[k] / 8] = ~at[k];
  uint64_t *shared = mmap(NULL, 64ULL << 30, PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  CHECK(shared != MAP_FAILED, "mmap 64 GiB shared");
  pid_t child = fork();
  if (child == 0) {
    for (int k = 0; k < 3; k++) shared[shared_at[k] / 8] = shared_at[k] + 1;
    _exit(0);
  }
  int status;
  CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && !WEXITSTATUS(status), "child");
  say_ready();
  wait_go(argv[1]);
  for (int k = 0; k < 4; k++) {
    uint64_t *p = (uint64_t *)(base + at[k]);
    for (uint64_t w = 0; w < CHUNK / 8; w++)
      CHECK(p[w] == (w % 512 ? 0 : at[k] + w), "chunk %d word %lu", k, (unsigned long)w);
  }
  for (int k = 0; k < 4; k++) CHECK(sparse[at[k] / 8] == ~at[k], "sparse word %d", k);
  CHECK(sparse[(500ULL << 30) / 8] == 0, "untouched sparse memory");
  for (int k = 0; k < 3; k++)
    CHECK(shared[shared_at[k] / 8] == shared_at[k] + 1, "shared word %d", k);
  CHECK(shared[(40ULL << 30) / 8] == 0, "untouched shared memory");
  /* The rest is still reserved: it can be committed now. */
  char *more = base + (600ULL << 30);
  CHECK(mprotect(more, CHUNK, PROT_READ | PROT_WRITE) == 0, "mprotect after restore");
  more[0] = 1;
  printf("PASS\n");
  return 0;
}
