/* The loader's audit interface (rtld-audit(7)): la_version runs once this library is loaded,
 * before the program's libraries are; la_objsearch before the loader looks for each one, so the
 * address space is prepared for where the next mapping must go; la_activity when a batch of
 * loads is over. */
#include <link.h>
#include <stdint.h>

#include "../common/seccomp_filter.h"
#include "audit.h"

#define AUDIT_ENTRY __attribute__((visibility("default")))

/* The handler only under the filter (an exec'd program); the libraries go below the line in the
 * application's first process too, which installs the filter in its library's constructor. */
AUDIT_ENTRY unsigned int la_version(unsigned int version) {
  if (amber_seccomp_present()) amber_audit_sigsys_install();
  amber_audit_low_start();
  return version < LAV_CURRENT ? version : LAV_CURRENT;
}

static const char *base_name(const char *path) {
  const char *base = path;
  for (const char *p = path; *p; p++)
    if (*p == '/') base = p + 1;
  return base;
}

static int starts_with(const char *s, const char *prefix) {
  while (*prefix)
    if (*s++ != *prefix++) return 0;
  return 1;
}

/* libc and Amber's library stay where the loader puts them, above the line: libc's calls are
 * the library's wrappers' real calls (translated already) or glibc's own (system ids). */
static int stays_high(const char *name) {
  const char *base = base_name(name);
  return starts_with(base, "libc.so") || starts_with(base, "libamber.so") ||
         starts_with(base, "ld-linux");
}

AUDIT_ENTRY char *la_objsearch(const char *name, uintptr_t *cookie, unsigned int flag) {
  if (stays_high(name)) amber_audit_low_release();
  else amber_audit_low_reserve();
  return (char *)name;
}

AUDIT_ENTRY void la_activity(uintptr_t *cookie, unsigned int flag) {
  if (flag == LA_ACT_CONSISTENT) amber_audit_low_release();
}

void *memset(void *s, int c, size_t n) {
  unsigned char *p = s;
  while (n--) *p++ = (unsigned char)c;
  return s;
}

void *memcpy(void *d, const void *s, size_t n) {
  unsigned char *to = d;
  const unsigned char *from = s;
  while (n--) *to++ = *from++;
  return d;
}
