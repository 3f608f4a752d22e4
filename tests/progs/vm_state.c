/* What a program asked of its memory comes back: madvise state (MADV_DONTFORK, WIPEONFORK,
 * HUGEPAGE, NOHUGEPAGE, DONTDUMP, and none of them where none was asked), mlock, mseal, a
 * MAP_GROWSDOWN region, PR_SET_THP_DISABLE, and file mappings that may still be made writable (mprotect)
 * after the restore: a private one, and a shared one of a file opened for writing. */
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "check.h"
#include "wait_go.h"

#define PAGE 4096UL
#define HUGE (2UL << 20)

/* The VmFlags of the region holding addr, with a space before each flag. */
static const char *vm_flags(const void *addr) {
  static char flags[1024];
  FILE *f = fopen("/proc/self/smaps", "r");
  CHECK(f != NULL, "smaps");
  char line[1024];
  int inside = 0;
  flags[0] = 0;
  while (fgets(line, sizeof line, f)) {
    unsigned long start, end;
    if (sscanf(line, "%lx-%lx ", &start, &end) == 2 && strchr(line, '-') < strchr(line, ' ')) {
      inside = (uintptr_t)addr >= start && (uintptr_t)addr < end;
    } else if (inside && !strncmp(line, "VmFlags:", 8)) {
      snprintf(flags, sizeof flags, "%s", line + 8);
      flags[strcspn(flags, "\n")] = ' ';
      break;
    }
  }
  fclose(f);
  return flags;
}

static int has(const void *addr, const char *flag) {
  char word[8];
  snprintf(word, sizeof word, " %s ", flag);
  return strstr(vm_flags(addr), word) != NULL;
}

static char *region(size_t len, int advice) {
  char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(p != MAP_FAILED, "mmap");
  memset(p, 0x5a, len);
  CHECK(advice < 0 || madvise(p, len, advice) == 0, "madvise %d", advice);
  return p;
}

static char *file_mapping(const char *path, int shared) {
  int fd = open(path, shared ? O_RDWR : O_RDONLY);
  CHECK(fd >= 0, "open %s", path);
  char *p = mmap(NULL, PAGE, PROT_READ, shared ? MAP_SHARED : MAP_PRIVATE, fd, 0);
  CHECK(p != MAP_FAILED, "mmap %s", path);
  close(fd);
  return p;
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: vm_state DIR");
  char path[4096];
  snprintf(path, sizeof path, "%s/mapped.bin", argv[1]);
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  CHECK(fd >= 0 && ftruncate(fd, PAGE) == 0, "file");
  close(fd);
  char *dontfork = region(4 * PAGE, MADV_DONTFORK);
  char *wipe = region(4 * PAGE, MADV_WIPEONFORK);
  char *dontdump = region(4 * PAGE, MADV_DONTDUMP);
  char *plain = region(4 * HUGE, -1);
  char *locked = region(4 * PAGE, -1);
  char *sealed = region(4 * PAGE, -1);
  int can_seal = syscall(462 /* mseal */, sealed, 4 * PAGE, 0) == 0;
  CHECK(mlock(locked, 4 * PAGE) == 0, "mlock");
  char *nohuge = region(4 * HUGE, MADV_NOHUGEPAGE);
  char *huge = mmap(NULL, 4 * HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(huge != MAP_FAILED && madvise(huge, 4 * HUGE, MADV_HUGEPAGE) == 0, "huge");
  memset(huge, 0x5a, 4 * HUGE);
  char *down = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN, -1, 0);
  CHECK(down != MAP_FAILED, "growsdown");
  memset(down, 0x5a, 16 * PAGE);
  char *private_file = file_mapping(path, 0);
  char *shared_file = file_mapping(path, 1);
  CHECK(prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0, "PR_SET_THP_DISABLE");
  CHECK(has(dontfork, "dc") && has(wipe, "wf") && has(huge, "hg") && has(nohuge, "nh") &&
            has(dontdump, "dd") && has(down, "gd"),
        "the flags before the snapshot");
  say_ready();
  wait_go(argv[1]);

  CHECK(has(dontfork, "dc"), "MADV_DONTFORK lost: %s", vm_flags(dontfork));
  CHECK(has(wipe, "wf"), "MADV_WIPEONFORK lost: %s", vm_flags(wipe));
  CHECK(has(huge, "hg") && !has(huge, "nh"), "MADV_HUGEPAGE lost: %s", vm_flags(huge));
  CHECK(has(nohuge, "nh") && !has(nohuge, "hg"), "MADV_NOHUGEPAGE lost: %s", vm_flags(nohuge));
  CHECK(!has(plain, "hg") && !has(plain, "nh"), "huge-page advice that was never given: %s",
        vm_flags(plain));
  CHECK(has(dontdump, "dd"), "MADV_DONTDUMP lost: %s", vm_flags(dontdump));
  CHECK(has(down, "gd"), "MAP_GROWSDOWN lost: %s", vm_flags(down));
  CHECK(has(locked, "lo") && !has(plain, "lo"), "mlock lost: %s", vm_flags(locked));
  if (can_seal) {
    CHECK(has(sealed, "sl") && sealed[0] == 0x5a, "mseal lost: %s", vm_flags(sealed));
    CHECK(mprotect(sealed, PAGE, PROT_READ) < 0, "a sealed region could be changed");
  }
  CHECK(prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) == 1, "PR_SET_THP_DISABLE lost");
  char *all[] = {dontfork, wipe, dontdump, plain, nohuge, huge, down};
  size_t lens[] = {4 * PAGE, 4 * PAGE, 4 * PAGE, 4 * HUGE, 4 * HUGE, 4 * HUGE, 16 * PAGE};
  for (int k = 0; k < 7; k++)
    for (size_t i = 0; i < lens[k]; i += 512) CHECK(all[k][i] == 0x5a, "region %d byte %zu", k, i);
  /* A child sees zeros where the parent asked for a wipe, and nothing where it asked for none. */
  pid_t child = fork();
  if (child == 0) {
    unsigned char v;
    if (wipe[0] != 0 || wipe[3 * PAGE] != 0) _exit(1);
    if (mincore(dontfork, PAGE, &v) == 0) _exit(2);
    _exit(0);
  }
  int status;
  CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status), "child");
  CHECK(WEXITSTATUS(status) != 1, "a child still sees the memory it should find wiped");
  CHECK(WEXITSTATUS(status) != 2, "a child still has the memory it should not inherit");
  CHECK(wipe[0] == 0x5a, "the parent's wiped-on-fork memory is gone");
  CHECK(mprotect(private_file, PAGE, PROT_READ | PROT_WRITE) == 0,
        "mprotect of a private file mapping: %m");
  private_file[0] = 'p';
  CHECK(mprotect(shared_file, PAGE, PROT_READ | PROT_WRITE) == 0,
        "mprotect of a shared mapping of a file opened for writing: %m");
  shared_file[1] = 's';
  CHECK(msync(shared_file, PAGE, MS_SYNC) == 0, "msync");
  char bytes[2];
  fd = open(path, O_RDONLY);
  CHECK(fd >= 0 && pread(fd, bytes, 2, 0) == 2, "read back");
  CHECK(bytes[0] == 0 && bytes[1] == 's', "the file has %d %d", bytes[0], bytes[1]);
  printf("PASS\n");
  return 0;
}
