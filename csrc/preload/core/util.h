/* Small helpers for code that runs in a signal handler, or before libc may be trusted: no
 * malloc, no stdio, no locks, raw system calls only (util.c). Every room of the library uses
 * them; they use nothing of the rooms. */
#ifndef AMBER_UTIL_H
#define AMBER_UTIL_H

#include <stdint.h>

/* Raw-syscall helpers usable in a signal handler (util.c), for every room. */
void amber_futex_wait(uint32_t *word, uint32_t seen, int shared, int timeout_ms);
void amber_futex_wake(uint32_t *word, int shared);
int64_t amber_monotonic_ns(void); /* CLOCK_MONOTONIC; 0 if it cannot be read */
/* %s %d %x %lx only; the compiler checks the arguments as printf would */
int amber_fmt(char *buf, int cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int amber_fmt_error(char *buf, int cap, const char *what, long err); /* "what: ENOSPC: ..." */
long amber_read_file(const char *path, char *buf, long cap);
/* A /proc link or maps name of a file that was unlinked ends in " (deleted)". */
int amber_is_deleted(const char *name);
/* That name without the suffix, from `skip` characters in (7 skips "/memfd:"), into out. */
void amber_undeleted_name(const char *name, int skip, char *out, int cap);
int amber_parse_u64(const char **p, uint64_t *out, int base);
int amber_list_numbers(const char *dir_path, int32_t *out, int cap);
/* One entry of what getdents64 reads (libc's struct dirent64, without its headers). */
struct amber_dirent64 {
  uint64_t ino;
  int64_t off;
  unsigned short reclen;
  unsigned char type;
  char name[];
};
/* The state letter of a /proc/.../stat file ('R', 'S', 'T', 'Z'...), 0 if unreadable. */
char amber_proc_state(const char *stat_path);

#endif
