/* A statically linked program runs without Amber's library, so with the seccomp layer on
 * (seccomp.c) nothing would answer the SIGSYS of its first call that names a process: the
 * kernel would end it with "Bad system call", far from the cause. Such an exec is refused
 * instead, with ENOEXEC and a line in the application's log that says why and what to do.
 * The dynamic loader run as a program (`ld.so --verify` and `ld.so PROGRAM` in ldd, a
 * launcher's `ld.so --library-path`) has no interpreter either, but it loads the audit
 * library, Amber's library and the program: it runs. */
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>

#include "../core/util.h"
#include "../core/amber.h"

/* Whether the open file is this process's dynamic loader. */
static int is_the_loader(int fd) {
  Dl_info loader;
  struct stat ours, theirs;
  if (!dladdr((void *)getauxval(AT_BASE), &loader) || !loader.dli_fname ||
      stat(loader.dli_fname, &ours) || fstat(fd, &theirs))
    return 0;
  return ours.st_dev == theirs.st_dev && ours.st_ino == theirs.st_ino;
}

/* Whether the file is an ELF executable without an interpreter (statically linked). */
static int static_elf(const char *path) {
  int fd = (int)amber_sys3(SYS_open, path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return 0;
  Elf64_Ehdr eh;
  int is_static = 0;
  if (amber_sys3(SYS_read, fd, &eh, sizeof eh) == sizeof eh && !memcmp(eh.e_ident, ELFMAG, SELFMAG) &&
      eh.e_ident[EI_CLASS] == ELFCLASS64 && eh.e_phentsize == sizeof(Elf64_Phdr)) {
    is_static = 1;
    for (int i = 0; i < eh.e_phnum && is_static; i++) {
      Elf64_Phdr ph;
      if (amber_sys4(SYS_pread64, fd, &ph, sizeof ph, eh.e_phoff + (uint64_t)i * sizeof ph) !=
          sizeof ph)
        is_static = 0; /* unreadable: let the kernel judge it */
      else if (ph.p_type == PT_INTERP)
        is_static = 0;
    }
  }
  if (is_static && is_the_loader(fd)) is_static = 0;
  amber_sys1(SYS_close, fd);
  return is_static;
}

/* The file execvp would run: `file` itself if it names a path, else the first one in PATH. */
static const char *searched(const char *file, char *buf, size_t cap) {
  if (strchr(file, '/')) return file;
  const char *path = getenv("PATH");
  if (!path) path = "/bin:/usr/bin";
  for (const char *p = path; *p;) {
    const char *end = strchr(p, ':');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    if (n + strlen(file) + 2 <= cap) {
      memcpy(buf, p, n);
      buf[n] = '/';
      strcpy(buf + n + 1, file);
      if (amber_sys2(SYS_access, buf, X_OK) == 0) return buf;
    }
    p += n + (end ? 1 : 0);
  }
  return file;
}

int amber_exec_refused(const char *file, int search) {
  if (!amber_active() || !amber_seccomp_layer || !file) return 0;
  char buf[4096];
  const char *path = search ? searched(file, buf, sizeof buf) : file;
  if (!static_elf(path)) return 0;
  char line[768];
  int n = amber_fmt(line, sizeof line,
                    "amber: cannot run %s: it is statically linked, so Amber's library cannot be "
                    "in it, and Amber's seccomp layer would end it at its first call that names a "
                    "process; run the application with --seccomp off to let it run (untranslated)\n",
                    path);
  amber_sys3(SYS_write, 2, line, n < (int)sizeof line ? n : (int)sizeof line - 1); /* the program's stderr */
  amber_log("%s", line);
  return 1;
}
