/* libamber-audit.so: a small library the loader runs before any other (LD_AUDIT), with no libc.
 * It does two things Amber's library cannot, since the loader runs every other library's
 * constructor before Amber's (docs/seccomp.md, "Before the library"):
 *
 * - early_sigsys.c: a SIGSYS handler for the calls Amber's filter traps before the library's own
 *   handler is in place (a constructor that starts a thread or blocks signals in a program exec'd
 *   inside an application), which makes them as they are, untranslated;
 * - low_libs.c: every library but libc and Amber's is mapped below AMBER_SECCOMP_LIBS_FROM, where
 *   the filter sees the program's own code, so the system calls a library makes itself (a Go
 *   library's runtime, inline assembly) are translated as the program's are. */
#ifndef AMBER_AUDIT_H
#define AMBER_AUDIT_H

#include <stddef.h>

void amber_audit_sigsys_install(void);

void amber_audit_low_start(void);
void amber_audit_low_reserve(void);
void amber_audit_low_release(void);

/* What the compiler may call for a struct copy: there is no libc here. */
void *memset(void *s, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);

#endif
