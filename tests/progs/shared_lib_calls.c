/* Raw system calls from shared libraries, one linked in (libraw_linked.so) and one dlopen'd
 * (libraw_dlopened.so, next to this program): each checks that its raw getpid, gettid, getppid,
 * kill and /proc/<pid>/status see the virtual ids (lib/raw_lib.c), at start, after a first
 * restore (once DIR/again exists: "restored once") and after a second (once DIR/go exists).
 *
 * With "exec-self", it first execs itself: the exec'd image starts under the filter, whose traps
 * of the libraries' constructors' calls come before Amber's library is set up (lib/raw_lib.c).
 *
 *   shared_lib_calls DIR [exec-self] */
#include <dlfcn.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "wait_go.h"

int linked_calls(char *why, size_t n);

static int (*dlopened_calls)(char *why, size_t n);

static void check_both(const char *when) {
  char why[256] = "";
  CHECK(linked_calls(why, sizeof why) == 0, "%s, the linked library: %s", when, why);
  CHECK(dlopened_calls(why, sizeof why) == 0, "%s, the dlopen'd library: %s", when, why);
}

int main(int argc, char **argv) {
  CHECK(argc == 2 || argc == 3, "usage: shared_lib_calls DIR [exec-self]");
  if (argc == 3) {
    char *again[] = {argv[0], argv[1], NULL};
    execv("/proc/self/exe", again);
    CHECK(0, "exec /proc/self/exe");
  }
  char path[PATH_MAX];
  ssize_t len = readlink("/proc/self/exe", path, sizeof path - 64);
  CHECK(len > 0, "readlink /proc/self/exe");
  path[len] = 0;
  strcpy(strrchr(path, '/') + 1, "libraw_dlopened.so");
  void *lib = dlopen(path, RTLD_NOW);
  CHECK(lib, "dlopen %s: %s", path, dlerror());
  dlopened_calls = (int (*)(char *, size_t))dlsym(lib, "dlopened_calls");
  CHECK(dlopened_calls, "dlsym dlopened_calls");
  check_both("at start");
  say_ready();
  while (!dir_has(argv[1], "again")) usleep(10000);
  check_both("after the first restore");
  printf("restored once\n");
  fflush(stdout);
  wait_go(argv[1]);
  check_both("after the second restore");
  printf("PASS\n");
  return 0;
}
