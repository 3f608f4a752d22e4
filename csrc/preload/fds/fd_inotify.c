/* inotify instances and their watches. /proc/self/fdinfo lists each watch ("inotify wd:%x
 * ino:%lx sdev:%x mask:%x ignored_mask:0 fhandle-bytes:%x fhandle-type:%x f_handle:<hex>"); the
 * watched file's path is the one the library noted when the program added the watch
 * (wrap_inotify.c), or else (a watch added before the library was loaded, or renamed since) is
 * found again through its handle (open_by_handle_at, which needs CAP_DAC_READ_SEARCH, on the
 * mount listed with its device); either is kept only if that path is the watched inode. At
 * restore each watch is added again with the process's own credentials on the file its path
 * names, opened following no link, and only if that is the file saved, by the rule descriptors
 * on files follow (docs/trust-model.md): the same device and inode, or for a regular file a copy
 * of the same size and modification time, or a directory; otherwise the restore is refused,
 * naming the watch and its path. The watches are added again in the order of their numbers: the
 * kernel hands an instance's numbers out in increasing order from 1, so a number freed before
 * the snapshot is taken by a placeholder watch (on a memfd of its own), removed at once, and its
 * IN_IGNORED event read away before the program runs. Events not read yet cannot be put back
 * into a new instance: a snapshot with any queued is refused.
 *
 * Record: data/data_len the watches (struct watch, one after another, each with its path and
 * then, 8-aligned, its file's struct seen), nmsgs how many. */
#include <fcntl.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>

#include "../../common/errno_name.h"
#include "../../common/reopen.h"
#include "fd_kinds.h"
#include "inotify_paths.h"

enum { AMBER_FD_INOTIFY = 13 };

struct watch {
  int32_t wd;
  uint32_t mask;
  uint64_t ino, dev; /* dev as stat gives it */
  uint32_t size;     /* of this entry, its path and padding included */
  char path[];
};

/* The watched file as the snapshot saw it, after the path (absent from older images). */
struct seen {
  uint32_t mode;
  uint32_t pad;
  int64_t btime_ns, size, mtime_ns;
};

static uint32_t seen_at(const char *path) {
  return (uint32_t)((sizeof(struct watch) + strlen(path) + 1 + 7) & ~7UL);
}

static const struct seen *seen_of(const struct watch *w) {
  uint32_t at = seen_at(w->path);
  return w->size >= at + sizeof(struct seen) ? (const struct seen *)((const char *)w + at) : 0;
}

static int inotify_recognise(const char *target, const struct stat *st) {
  (void)st;
  return !strcmp(target, "anon_inode:inotify");
}

/* "descriptor N (inotify) <why>", why holding at most one %d: n. */
static int refuse(const struct amber_fd_rec *rec, const char *why, int n) {
  char text[200];
  amber_fmt(text, sizeof text, why, n);
  amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error, "descriptor %d (inotify) %s", rec->fd,
            text);
  return -1;
}

/* A refusal that names the errno ("(EACCES)"), as Amber's messages do. */
static int refuse_errno(const struct amber_fd_rec *rec, const char *what, long err) {
  char why[160];
  amber_fmt(why, sizeof why, "%s (%s)", what, amber_errno_name(err));
  return refuse(rec, why, 0);
}

/* Freed watch numbers a restore takes again with placeholders, at most. */
#define MAX_GAPS 4096

/* What restore asks again of a watch: the events and the flags fdinfo shows. */
#define WATCH_MASK (IN_ALL_EVENTS | IN_ONESHOT | IN_EXCL_UNLINK)

/* A descriptor on the root of a mount of device dev (as stat gives it), for open_by_handle_at. */
static int mount_of(uint64_t dev) {
  static char info[64 << 10];
  long len = amber_read_file("/proc/self/mountinfo", info, sizeof info);
  if (len <= 0) return -ENOENT;
  /* "36 35 98:0 /root /mount/point options ..." */
  for (char *line = info; line && *line;) {
    char *next = strchr(line, '\n');
    if (next) *next++ = 0;
    const char *p = line;
    for (int skip = 0; skip < 2 && p; skip++) p = strchr(p, ' '), p = p ? p + 1 : 0;
    uint64_t major, minor;
    if (p && !amber_parse_u64(&p, &major, 10) && *p++ == ':' && !amber_parse_u64(&p, &minor, 10) &&
        makedev(major, minor) == dev) {
      const char *root = p + 1, *point = strchr(root, ' ');
      char path[4096];
      if (point) {
        point++;
        const char *end = strchr(point, ' ');
        int n = end ? (int)(end - point) : (int)strlen(point);
        if (n < (int)sizeof path && !memchr(point, '\\', n)) { /* escaped names: not handled */
          memcpy(path, point, n);
          path[n] = 0;
          /* not O_PATH: open_by_handle_at takes no O_PATH descriptor for the mount */
          int fd = (int)amber_sys4(SYS_openat, AT_FDCWD, path, O_RDONLY | O_NONBLOCK | O_CLOEXEC, 0);
          if (fd >= 0) return fd;
        }
      }
    }
    line = next;
  }
  return -ENOENT;
}

/* The path of the watched inode, from its handle; only if that path is the inode. */
static int path_of(const char *handle_hex, uint32_t bytes, int32_t type, uint64_t ino,
                   uint64_t dev, char *path, int cap) {
  static uint64_t space[(sizeof(struct file_handle) + 128) / 8 + 1];
  struct file_handle *fh = (struct file_handle *)space;
  unsigned char *out = (unsigned char *)space + sizeof *fh;
  if (bytes > 128) return -EOVERFLOW;
  fh->handle_bytes = bytes;
  fh->handle_type = type;
  for (uint32_t i = 0; i < bytes; i++) {
    char two[3] = {handle_hex[2 * i], handle_hex[2 * i + 1], 0};
    const char *p = two;
    uint64_t b;
    if (!two[0] || !two[1] || amber_parse_u64(&p, &b, 16)) return -EINVAL;
    out[i] = (unsigned char)b;
  }
  int mnt = mount_of(dev);
  if (mnt < 0) return mnt;
  int fd = (int)amber_sys3(SYS_open_by_handle_at, mnt, fh, O_PATH | O_CLOEXEC);
  amber_sys1(SYS_close, mnt);
  if (fd < 0) return fd;
  char link[64];
  amber_fmt(link, sizeof link, "/proc/thread-self/fd/%d", fd);
  long len = amber_sys4(SYS_readlinkat, AT_FDCWD, link, path, cap - 1);
  amber_sys1(SYS_close, fd);
  if (len <= 0 || len >= cap - 1) return -ENAMETOOLONG;
  path[len] = 0;
  struct stat st;
  if (path[0] != '/' || amber_is_deleted(path) ||
      amber_sys4(SYS_newfstatat, AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_ino != ino ||
      st.st_dev != dev)
    return -ESTALE;
  return 0;
}

/* The path the library noted for the watched inode, if it names that inode still. */
static int noted_path(uint64_t ino, uint64_t dev, char *path, int cap) {
  const char *known = amber_inotify_path(dev, ino);
  struct stat st;
  if (!known || (int)strlen(known) >= cap ||
      amber_sys4(SYS_newfstatat, AT_FDCWD, known, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
      st.st_ino != ino || st.st_dev != dev)
    return -ENOENT;
  memcpy(path, known, strlen(known) + 1);
  return 0;
}

/* The watched file's type, birth time, size and modification time, through its path. */
static int see(const char *path, uint64_t ino, uint64_t dev, struct seen *seen) {
  int fd = (int)amber_open_no_links(path, O_PATH | O_CLOEXEC);
  if (fd < 0) return -ESTALE;
  struct stat st;
  int err = amber_sys2(SYS_fstat, fd, &st) < 0 || st.st_ino != ino || st.st_dev != dev ? -ESTALE : 0;
  if (!err) {
    seen->mode = st.st_mode;
    seen->btime_ns = amber_btime_ns(fd);
    seen->size = st.st_size;
    seen->mtime_ns = amber_mtime_ns(&st);
  }
  amber_sys1(SYS_close, fd);
  return err;
}

static const char *after(const char *line, const char *end, const char *name) {
  const char *p = strstr(line, name);
  return p && p < end ? p + strlen(name) : 0;
}

static int inotify_capture(struct amber_fd_rec *rec, const char *target, const struct stat *st) {
  (void)st;
  rec->kind = AMBER_FD_INOTIFY;
  amber_fmt(rec->path, sizeof rec->path, "%s", target);
  int queued = 0;
  if (amber_sys3(SYS_ioctl, rec->fd, FIONREAD, &queued) == 0 && queued > 0)
    return refuse(rec, "has %d bytes of events not read yet, which a new instance cannot be given",
                  queued);
  static char info[64 << 10];
  long len = amber_fdinfo_read(rec->fd, info, sizeof info);
  if (len < 0) return refuse_errno(rec, "has no fdinfo", len);
  if (len >= (long)sizeof info - 1) return refuse(rec, "has too many watches", 0);
  int64_t highest = 0;
  for (const char *line = info; (line = strstr(line, "inotify wd:")) != 0;) {
    const char *end = strchr(line, '\n');
    if (!end) end = line + strlen(line);
    uint64_t wd, ino, sdev, mask, bytes, type;
    const char *p = line + 11, *i = after(line, end, "ino:"), *d = after(line, end, "sdev:");
    const char *m = after(line, end, " mask:"), *b = after(line, end, "fhandle-bytes:");
    const char *t = after(line, end, "fhandle-type:"), *h = after(line, end, "f_handle:");
    if (amber_parse_u64(&p, &wd, 16) || !i || amber_parse_u64(&i, &ino, 16) || !d ||
        amber_parse_u64(&d, &sdev, 16) || !m || amber_parse_u64(&m, &mask, 16))
      return refuse(rec, "has a watch its fdinfo does not describe as expected", 0);
    if (!b || !t || !h || amber_parse_u64(&b, &bytes, 16) || amber_parse_u64(&t, &type, 16))
      return refuse(rec, "has watch %d on a file system that gives no file handle", (int)wd);
    uint64_t dev = makedev(sdev >> 20, sdev & 0xfffff); /* the kernel's dev_t to stat's */
    char path[4096];
    int err = noted_path(ino, dev, path, sizeof path);
    if (err) err = path_of(h, (uint32_t)bytes, (int32_t)type, ino, dev, path, sizeof path);
    struct seen seen = {0};
    if (!err) err = see(path, ino, dev, &seen);
    if (err == -EPERM)
      return refuse(rec, "has watch %d whose path only a process with CAP_DAC_READ_SEARCH can "
                         "find (open_by_handle_at)", (int)wd);
    if (err == -ESTALE)
      return refuse(rec, "has watch %d on a file that has no path to it now (deleted, or "
                         "reachable only from a directory out of this process's view)", (int)wd);
    if (err) {
      amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
                "descriptor %d (inotify) has watch %d on a file whose path cannot be found "
                "(%s)", rec->fd, (int)wd, amber_errno_name(err));
      return -1;
    }
    uint32_t size = seen_at(path) + (uint32_t)sizeof seen;
    struct watch *w = amber_fd_buffer(size);
    if (!w) return refuse(rec, "has more watches than Amber's buffer holds", 0);
    if (!rec->data) rec->data = (uint64_t)w;
    w->wd = (int32_t)wd;
    w->mask = (uint32_t)mask;
    w->ino = ino;
    w->dev = dev;
    w->size = size;
    memcpy(w->path, path, strlen(path) + 1);
    memcpy((char *)w + seen_at(path), &seen, sizeof seen);
    rec->data_len += size;
    rec->nmsgs++;
    if ((int64_t)wd > highest) highest = (int64_t)wd;
    line = end;
  }
  /* Every number below the highest that no watch has takes a placeholder at restore. */
  if (highest - (int64_t)rec->nmsgs > MAX_GAPS)
    return refuse(rec, "has watch numbers with more than %d freed below them, which a restore "
                       "cannot take again one by one", MAX_GAPS);
  return 0;
}

static struct watch *next_watch(const struct amber_fd_rec *rec, int32_t after_wd) {
  struct watch *best = 0;
  for (uint64_t off = 0; off < rec->data_len;) {
    struct watch *w = (struct watch *)(rec->data + off);
    if (w->wd > after_wd && (!best || w->wd < best->wd)) best = w;
    off += w->size;
  }
  return best;
}

/* Takes the next number with a watch on an inode of its own and gives it back: the number, or
 * -errno. */
static int placeholder(int fd) {
  int mem = (int)amber_sys2(SYS_memfd_create, "amber-inotify", 1 /* MFD_CLOEXEC */);
  if (mem < 0) return mem;
  char path[64];
  amber_fmt(path, sizeof path, "/proc/thread-self/fd/%d", mem);
  long got = amber_sys3(SYS_inotify_add_watch, fd, path, IN_ATTRIB);
  amber_sys1(SYS_close, mem);
  if (got < 0) return (int)got;
  amber_sys2(SYS_inotify_rm_watch, fd, (int)got);
  return (int)got;
}

/* Reads away the placeholders' IN_IGNORED events; any other event fails the restore. */
static int drain(int fd, int32_t *placeholders, int n) {
  char buf[4096] __attribute__((aligned(8)));
  int left = n;
  while (left > 0) {
    long len = amber_sys3(SYS_read, fd, buf, sizeof buf);
    if (len <= 0) return len < 0 ? (int)len : -EIO;
    for (long off = 0; off < len;) {
      struct inotify_event *e = (struct inotify_event *)(buf + off);
      int ours = 0;
      for (int i = 0; i < n; i++)
        if (placeholders[i] == e->wd && (e->mask & IN_IGNORED)) ours = 1;
      if (!ours) return -EAGAIN; /* a watched file changed meanwhile */
      left--;
      off += sizeof *e + e->len;
    }
  }
  return 0;
}

/* Is the file open on `file` (O_PATH) the one watched at the snapshot? As fd_file.c reopens:
 * the same file, or a copy (a regular file of the same size and modification time, a directory);
 * an older image saved no more than the inode. */
static int same_watched(int file, const struct watch *w) {
  const struct seen *seen = seen_of(w);
  struct stat st;
  if (amber_sys2(SYS_fstat, file, &st) < 0) return 0;
  if (!seen) return (uint64_t)st.st_dev == w->dev && (uint64_t)st.st_ino == w->ino;
  if ((st.st_mode & S_IFMT) != (seen->mode & S_IFMT)) return 0;
  if (!S_ISREG(st.st_mode)) return 1;
  return amber_same_file(file, w->dev, w->ino, seen->btime_ns, seen->size, seen->mtime_ns);
}

/* The watch added again on the file its path names, as the process itself: its number, or
 * -errno (-ESTALE: another file). */
static long watch_again(int fd, const struct watch *w) {
  int file = (int)amber_open_no_links(w->path, O_PATH | O_CLOEXEC);
  if (file < 0) return file == -ELOOP ? -ESTALE : file;
  long got = -ESTALE;
  struct stat st;
  if (same_watched(file, w) && amber_sys2(SYS_fstat, file, &st) == 0) {
    char self[64]; /* the file just checked, not whatever the path names a moment later */
    amber_fmt(self, sizeof self, "/proc/thread-self/fd/%d", file);
    got = S_ISLNK(st.st_mode) /* a watch on a link itself: the link by its path */
              ? amber_sys3(SYS_inotify_add_watch, fd, w->path, (w->mask & WATCH_MASK) | IN_DONT_FOLLOW)
              : amber_sys3(SYS_inotify_add_watch, fd, self, w->mask & WATCH_MASK);
    if (got >= 0) amber_inotify_note(w->path, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
  }
  amber_sys1(SYS_close, file);
  return got;
}

static int make(struct amber_fd_rec *rec) {
  int fd = (int)amber_sys1(SYS_inotify_init1, IN_CLOEXEC | IN_NONBLOCK);
  if (fd < 0) return fd;
  static int32_t gaps[MAX_GAPS];
  int ngaps = 0, err = 0;
  int32_t next = 1;
  for (struct watch *w = next_watch(rec, 0); w && !err; w = next_watch(rec, w->wd)) {
    while (next < w->wd && !err) { /* numbers freed before the snapshot */
      int got = placeholder(fd);
      if (got < 0) err = got;
      else if (ngaps == (int)(sizeof gaps / sizeof *gaps)) err = -E2BIG;
      else gaps[ngaps++] = got, next = got + 1;
    }
    if (err) break;
    long got = watch_again(fd, w);
    if (got >= 0 && got != w->wd) got = -EEXIST; /* a number it cannot have again */
    if (got < 0) {
      err = (int)got;
      amber_fmt(rec->path, sizeof rec->path, "inotify watch %d on %s", w->wd, w->path);
    }
    next = w->wd + 1;
  }
  if (!err && ngaps) err = drain(fd, gaps, ngaps);
  if (err) {
    amber_sys1(SYS_close, fd);
    return err;
  }
  return fd;
}

static int inotify_restore(struct amber_fd_rec *rec, int floor) {
  return amber_fd_place(amber_fd_park(make(rec), floor), rec);
}

const struct amber_fd_ops amber_fd_inotify_ops = {
    .name = "inotify",
    .kinds = AMBER_FD_BIT(AMBER_FD_INOTIFY),
    .recognise = inotify_recognise,
    .capture = inotify_capture,
    .restore = inotify_restore,
};
