/* dlopen: a library loaded now may make system calls itself (a Go library's runtime); the
 * libraries' filter takes its code in (kernel/seccomp_libs.c) before the program can call it. */
#include <dlfcn.h>

#include "../core/amber.h"

AMBER_EXPORT void *dlopen(const char *file, int mode) {
  void *handle = REAL(dlopen)(file, mode);
  if (handle) amber_seccomp_libs_update();
  return handle;
}

AMBER_EXPORT void *dlmopen(Lmid_t namespace, const char *file, int mode) {
  void *handle = REAL(dlmopen)(namespace, file, mode);
  if (handle) amber_seccomp_libs_update();
  return handle;
}
