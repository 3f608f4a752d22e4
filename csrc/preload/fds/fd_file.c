/* Files, directories and character devices: reopened by path, with flags and offset. A path
 * that would not name the same thing again is refused by name (a deleted file or memfd is
 * fd_pathless.c's, a POSIX message queue fd_mqueue.c's): another process's /proc entry. This
 * process's own /proc entries are reopened as /proc/self/... */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "../../common/reopen.h"
#include "fd_kinds.h"
#include "../wrappers/proc_files.h"

static int refuse(const struct amber_fd_rec *rec, const char *what, const char *target) {
  amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
            "descriptor %d is %s (%s), which Amber cannot save yet", rec->fd, what, target);
  return -1;
}

/* /proc/<this pid>/x -> /proc/self/x in out; 0, or -1 for another process's entry. */
static int own_proc_path(const char *target, char *out, size_t cap) {
  const char *p = target + 6;
  uint64_t pid;
  if (amber_parse_u64(&p, &pid, 10) || (*p != '/' && *p)) {
    amber_fmt(out, (int)cap, "%s", target); /* /proc/self, /proc/mounts and the like */
    return 0;
  }
  if ((int32_t)pid != amber_sys_getpid()) return -1;
  amber_fmt(out, (int)cap, "/proc/self%s", p);
  return 0;
}

/* May the process open the path again with its own credentials, as a restore will? */
static int reopenable(const struct amber_fd_rec *rec) {
  if (!strncmp(rec->path, "/proc/", 6)) return 1;
  int acc = rec->flags & O_ACCMODE;
  int mode = (rec->flags & O_PATH) ? F_OK : acc == O_RDONLY ? R_OK : acc == O_WRONLY ? W_OK
                                                                                     : R_OK | W_OK;
  long r = amber_sys4(SYS_faccessat2, AT_FDCWD, rec->path, mode, AT_EACCESS);
  return r != -EACCES && r != -EPERM;
}

int amber_fd_file_capture(struct amber_fd_rec *rec, const char *target, const struct stat *st) {
  size_t n = strlen(target);
  rec->kind = AMBER_FD_FILE;
  /* A /proc file Amber handed over with virtual pids (proc_files.c) is made again so. */
  const char *proc = amber_proc_virtual_path(rec->fd);
  if (proc && !strncmp(target, "/memfd:amber-proc", 17)) {
    amber_fmt(rec->path, sizeof rec->path, "%s", proc);
    rec->u[0] = 1;
    long off = amber_sys3(SYS_lseek, rec->fd, 0, SEEK_CUR);
    rec->offset = off < 0 ? 0 : off;
    return 0;
  }
  if (!strncmp(target, "/memfd:", 7)) return amber_fd_pathless_capture(rec, target, st);
  if (amber_is_deleted(target)) {
    if (!S_ISREG(st->st_mode)) return refuse(rec, "a deleted directory or device", target);
    if (!st->st_nlink) return amber_fd_pathless_capture(rec, target, st);
    if (amber_relinked_name(target, st, rec->path, sizeof rec->path))
      return refuse(rec, "a file deleted under one name and linked under another, in another "
                         "directory", target);
  } else if (!strncmp(target, "/proc/", 6)) {
    if (own_proc_path(target, rec->path, sizeof rec->path))
      return refuse(rec, "another process's /proc entry", target);
  } else {
    memcpy(rec->path, target, n + 1 < sizeof rec->path ? n + 1 : sizeof rec->path - 1);
  }
  rec->ino = st->st_ino;
  rec->file_dev = st->st_dev;
  rec->file_size = st->st_size;
  rec->file_mtime_ns = amber_mtime_ns(st);
  rec->file_mode = st->st_mode;
  rec->file_btime_ns = amber_btime_ns(rec->fd);
  long off = amber_sys3(SYS_lseek, rec->fd, 0, SEEK_CUR);
  rec->offset = off < 0 ? 0 : off;
  return 0;
}

/* Once every process is frozen and it is known who owns the description: only its owner
 * reopens the file at restore (the others are handed the description), so only the owner must
 * be able to open it again as itself. A worker that gave up root holds its root master's log. */
int amber_fd_file_frozen(struct amber_fd_rec *rec) {
  if (rec->u[0] || !amber_fd_owned(rec) || reopenable(rec)) return 0;
  return refuse(rec, "a file this process could not open again as itself (it was opened "
                     "with privileges it has since given up, and a restore reopens files with "
                     "the process's own)", rec->path);
}

/* Reopened with the process's own credentials (the restorer gave it them), following no link
 * (the saved path had none), and only if it is the file saved: a file replaced by another (or
 * by a link to one the user could not read) is refused, not opened. docs/trust-model.md. */
static int reopen(const struct amber_fd_rec *rec, int flags) {
  if (!strncmp(rec->path, "/proc/", 6)) /* its own entries, through the /proc/self link */
    return (int)amber_sys4(SYS_openat, AT_FDCWD, rec->path, flags | O_CLOEXEC, 0);
  int fd = (int)amber_open_no_links(rec->path, flags | O_CLOEXEC);
  if (fd < 0 || !rec->file_mode) return fd;
  struct stat st;
  int same = amber_sys2(SYS_fstat, fd, &st) == 0 && (st.st_mode & S_IFMT) == (rec->file_mode & S_IFMT);
  if (same && S_ISREG(st.st_mode))
    same = amber_same_file(fd, rec->file_dev, rec->ino, rec->file_btime_ns, rec->file_size,
                           rec->file_mtime_ns);
  if (same) return fd;
  amber_sys1(SYS_close, fd);
  return -ESTALE;
}

int amber_fd_file_restore(struct amber_fd_rec *rec, int floor) {
  int flags = rec->flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY);
  if ((flags & O_TMPFILE) == O_TMPFILE) flags &= ~O_TMPFILE; /* made so, linked since: a file */
  int fd = rec->u[0] ? amber_proc_virtual_file(rec->path, O_RDONLY | O_CLOEXEC) /* a memfd: RDWR */
                     : reopen(rec, flags);
  if (fd < 0) return fd;
  if (rec->offset) amber_sys3(SYS_lseek, fd, rec->offset, SEEK_SET);
  return amber_fd_place(amber_fd_park(fd, floor), rec);
}

static int file_recognise(const char *target, const struct stat *st) {
  return target[0] == '/' && (S_ISREG(st->st_mode) || S_ISDIR(st->st_mode) || S_ISCHR(st->st_mode));
}

const struct amber_fd_ops amber_fd_file_ops = {
    .name = "file",
    .kinds = AMBER_FD_BIT(AMBER_FD_FILE),
    .recognise = file_recognise,
    .capture = amber_fd_file_capture,
    .frozen = amber_fd_file_frozen,
    .restore = amber_fd_file_restore,
};
