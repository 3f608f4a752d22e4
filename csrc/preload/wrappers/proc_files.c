/* /proc/<pid>/stat and /proc/<pid>/status (and the lock lines of /proc/locks and
 * /proc/<pid>/fdinfo/N) name processes by system pid (the process itself,
 * its parent, group and session, its thread group). Opened for reading under Amber, they are
 * read here, their pids made virtual (0 for a process outside the application), and handed to
 * the program as a memfd with the same text otherwise, so tools like ps see only virtual IDs.
 * The file's own process, when it is outside the application (its directory is listed by its
 * system pid), keeps that pid: read as 0, pkill -f of it sent kill(0, ...), which signals the
 * caller's own process group; its system pid is refused by the library's kill (ESRCH) instead. */
#include <fcntl.h>
#include <string.h>

#include "../core/amber.h"
#include "../core/util.h"
#include "proc_files.h"

static int32_t virtual_pid(long sid) {
  if (sid <= 0) return (int32_t)sid; /* 0 and -1 (no terminal group) mean what they mean */
  int32_t v = amber_s2v(amber.table, AMBER_KIND_PID, (int32_t)sid);
  return v > 0 ? v : 0;
}

/* The file's own process (its pid, thread group, ids in namespaces): outside the application,
 * the system pid its /proc directory has. */
static int32_t own_pid(long sid) {
  int32_t v = virtual_pid(sid);
  return v || sid <= 0 ? v : (int32_t)sid;
}

/* Is path /proc/<self|thread-self|N>[/task/N]/(stat|status)? 1 for stat, 2 for status; 3 for
 * /proc/locks; 4 for .../fdinfo/N (its "lock:" lines name holders as /proc/locks does); 5 for
 * schedstat (its CPU time, proc_cpu_times.c). */
static int which_file(const char *path) {
  if (!strcmp(path, "/proc/locks")) return 3;
  if (strncmp(path, "/proc/", 6)) return 0;
  const char *p = path + 6;
  if (!strncmp(p, "self/", 5)) p += 5;
  else if (!strncmp(p, "thread-self/", 12)) p += 12;
  else {
    const char *q = p;
    while (*q >= '0' && *q <= '9') q++;
    if (q == p || *q != '/') return 0;
    p = q + 1;
  }
  if (!strncmp(p, "task/", 5)) {
    const char *q = p + 5;
    while (*q >= '0' && *q <= '9') q++;
    if (q == p + 5 || *q != '/') return 0;
    p = q + 1;
  }
  if (!strncmp(p, "fdinfo/", 7)) {
    const char *q = p + 7;
    while (*q >= '0' && *q <= '9') q++;
    return q > p + 7 && !*q ? 4 : 0;
  }
  return !strcmp(p, "stat") ? 1 : !strcmp(p, "status") ? 2 : !strcmp(p, "schedstat") ? 5 : 0;
}

static int put(char *out, int cap, int n, const char *s, int len) {
  for (int i = 0; i < len && n < cap - 1; i++) out[n++] = s[i];
  return n;
}

static int put_num(char *out, int cap, int n, long v) {
  char num[24];
  int len = amber_fmt(num, sizeof num, "%ld", v);
  return put(out, cap, n, num, len);
}

/* stat: "pid (comm) S ppid pgrp session tty tpgid ...": fields 1, 4, 5, 6 and 8; and the CPU
 * times utime, stime, cutime and cstime, fields 14 to 17 (proc_cpu_times.c). */
static int rewrite_stat(const char *path, const char *in, char *out, int cap) {
  const char *open_paren = strchr(in, '(');
  const char *close = strrchr(in, ')');
  if (!open_paren || !close) return put(out, cap, 0, in, (int)strlen(in));
  const char *p = in;
  uint64_t pid;
  amber_parse_u64(&p, &pid, 10);
  int64_t shift[4];
  amber_proc_stat_shifts(path, (int32_t)pid, shift);
  int n = put_num(out, cap, 0, own_pid((long)pid));
  n = put(out, cap, n, p, (int)(close + 1 - p));
  p = close + 1;
  for (int field = 3; *p; field++) {
    while (*p == ' ') n = put(out, cap, n, p++, 1);
    const char *start = p;
    while (*p && *p != ' ' && *p != '\n') p++;
    if (field == 4 || field == 5 || field == 6 || field == 8) {
      const char *q = start;
      int negative = *q == '-';
      uint64_t v = 0;
      if (negative) q++;
      amber_parse_u64(&q, &v, 10);
      n = put_num(out, cap, n, negative ? -(long)v : virtual_pid((long)v));
    } else if (field >= 14 && field <= 17 && shift[field - 14]) {
      const char *q = start;
      uint64_t v = 0;
      amber_parse_u64(&q, &v, 10);
      n = put_num(out, cap, n, (long)v + shift[field - 14]);
    } else {
      n = put(out, cap, n, start, (int)(p - start));
    }
    if (*p == '\n') n = put(out, cap, n, p++, 1);
  }
  return n;
}

/* The label's length, or 0 for a line of no pids; *own: the line names the file's process. */
static int is_pid_line(const char *line, int *own) {
  static const char *names[] = {"Pid:", "Tgid:", "NSpid:", "NStgid:", "PPid:", "NSpgid:",
                                "NSsid:"};
  for (unsigned i = 0; i < sizeof names / sizeof *names; i++)
    if (!strncmp(line, names[i], strlen(names[i]))) {
      *own = i < 4;
      return (int)strlen(names[i]);
    }
  return 0;
}

/* status: the numbers on the Pid, PPid, Tgid and NS* lines. */
static int rewrite_status(const char *in, char *out, int cap) {
  int n = 0;
  for (const char *line = in; *line;) {
    const char *end = strchr(line, '\n');
    if (!end) end = line + strlen(line);
    int own = 0, label = is_pid_line(line, &own);
    if (!label) {
      n = put(out, cap, n, line, (int)(end - line));
    } else {
      n = put(out, cap, n, line, label);
      for (const char *p = line + label; p < end;) {
        if (*p < '0' || *p > '9') {
          n = put(out, cap, n, p++, 1);
          continue;
        }
        uint64_t v;
        amber_parse_u64(&p, &v, 10);
        n = put_num(out, cap, n, own ? own_pid((long)v) : virtual_pid((long)v));
      }
    }
    if (*end == '\n') n = put(out, cap, n, end, 1);
    line = *end ? end + 1 : end;
  }
  return n;
}

static int colons(const char *p, const char *end) {
  int n = 0;
  for (; p < end; p++) n += *p == ':';
  return n;
}

/* The pid in a line of /proc/locks ("1: POSIX  ADVISORY  WRITE 1234 fe:00:5678 0 EOF", a waiter
 * "1: -> POSIX ..."): the word before "major:minor:inode". */
static const char *lock_pid(const char *line, const char *end, const char **pid_end) {
  const char *previous = 0, *previous_end = 0;
  for (const char *p = line; p < end;) {
    while (p < end && *p == ' ') p++;
    const char *w = p;
    while (p < end && *p != ' ') p++;
    if (w < p && colons(w, p) == 2 && previous) {
      *pid_end = previous_end;
      return previous;
    }
    previous = w, previous_end = p;
  }
  return 0;
}

/* locks: each lock's holder; an OFD lock's -1 stays. Only lines that begin with `prefix`
 * (fdinfo's "lock:\t1: POSIX ..."; "" for /proc/locks). */
static int rewrite_locks(const char *in, char *out, int cap, const char *prefix) {
  int n = 0;
  size_t prefix_len = strlen(prefix);
  for (const char *line = in; *line;) {
    const char *end = strchr(line, '\n');
    if (!end) end = line + strlen(line);
    const char *pid_end = 0, *pid = 0;
    if (!strncmp(line, prefix, prefix_len)) pid = lock_pid(line, end, &pid_end);
    if (pid && *pid != '-') {
      uint64_t v = 0;
      const char *q = pid;
      amber_parse_u64(&q, &v, 10);
      n = put(out, cap, n, line, (int)(pid - line));
      n = put_num(out, cap, n, virtual_pid((long)v));
      n = put(out, cap, n, pid_end, (int)(end - pid_end));
    } else {
      n = put(out, cap, n, line, (int)(end - line));
    }
    if (*end == '\n') n = put(out, cap, n, end, 1);
    line = *end ? end + 1 : end;
  }
  return n;
}

/* Which descriptors hold such files, and for which path: a snapshot makes them again. */
#define MAX_VIRTUAL_FILES 64
static struct {
  int32_t fd;
  char path[64];
} made[MAX_VIRTUAL_FILES];

static void remember(int fd, const char *path) {
  const char *p = path + 6;
  uint64_t pid;
  char self[64];
  if (!amber_parse_u64(&p, &pid, 10) && (int32_t)pid == amber_sys_getpid())
    amber_fmt(self, sizeof self, "/proc/self%s", p);
  else
    amber_fmt(self, sizeof self, "%s", path);
  int slot = fd % MAX_VIRTUAL_FILES; /* a later file on the same number replaces it */
  made[slot].fd = fd;
  memcpy(made[slot].path, self, sizeof self);
}

const char *amber_proc_virtual_path(int fd) {
  int slot = fd % MAX_VIRTUAL_FILES;
  return made[slot].fd == fd && made[slot].path[0] ? made[slot].path : 0;
}

int amber_proc_virtual_file(const char *path, int flags) {
  if (!amber_active() || !path || (flags & O_ACCMODE) != O_RDONLY) return -ENOENT;
  int which = which_file(path);
  if (!which) return -ENOENT;
  /* Room of its own, not thread-local data (every thread's static TLS block holds that: its
   * size is the audit library's tunable, common/tls_room.h); the whole machine's locks (or an
   * epoll's many lines) get more. */
  long cap = which == 3 || which == 4 ? 1 << 20 : 8192;
  long addr = amber_sys6(SYS_mmap, 0, 2 * cap, 3, 0x22 /* MAP_PRIVATE|MAP_ANONYMOUS */, -1, 0);
  if (addr < 0 && addr > -4096) return (int)addr;
  char *in = (char *)addr, *out = (char *)addr + cap;
  long len = amber_read_file(path, in, cap);
  int n = len < 0 ? 0
        : which == 1 ? rewrite_stat(path, in, out, (int)cap)
        : which == 2 ? rewrite_status(in, out, (int)cap)
        : which == 5 ? amber_proc_rewrite_schedstat(path, in, out, (int)cap)
        : which == 3 ? rewrite_locks(in, out, (int)cap, "")
                     : rewrite_locks(in, out, (int)cap, "lock:");
  int fd = len < 0 ? (int)len /* the caller's real open will say why */
                   : (int)amber_sys2(SYS_memfd_create, "amber-proc", (flags & O_CLOEXEC) ? 1 : 0);
  if (fd >= 0) amber_sys3(SYS_write, fd, out, n);
  amber_sys2(SYS_munmap, in, 2 * cap);
  if (fd < 0) return fd;
  amber_sys3(SYS_lseek, fd, 0, SEEK_SET);
  remember(fd, path);
  return fd;
}
