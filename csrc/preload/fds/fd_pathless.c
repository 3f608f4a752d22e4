/* Files with no path to reopen: memfds and deleted files. Their bytes travel in the image: the
 * file's first holder copies them out once every process of the application is frozen (nobody
 * writes meanwhile). A restore makes the file again (a memfd of the same name; a deleted file
 * at its old path, unlinked at once), writes the bytes back and seals it; every description of
 * it is then opened again with its access mode and offset. A memfd the application also maps
 * shares the memfd that the mapping comes back on (agent_memory.c makes it first, from the
 * saved pages), so that a write through the descriptor shows in the memory and the other way
 * round, as before. */
#include <fcntl.h>
#include <linux/magic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statfs.h>

#include "../../common/broker.h"
#include "../agent/agent_share.h"
#include "../agent/agent_sink.h"
#include "fd_kinds.h"

#ifndef F_GET_SEALS
#define F_ADD_SEALS 1033
#define F_GET_SEALS 1034
#endif

/* rec->u[]: the kind-specific fields. */
enum { FILE_SIZE = 0, FILE_SEALS = 1, FILE_MAPPED = 2, FILE_MODE = 3, FILE_OWNER = 4 };

static const char *kind_name(const struct amber_fd_rec *rec) {
  return rec->kind == AMBER_FD_MEMFD ? "memfd" : "deleted file";
}

int amber_fd_is_pathless(const struct amber_fd_rec *rec) {
  return rec->kind == AMBER_FD_MEMFD || rec->kind == AMBER_FD_DELETED;
}

int amber_fd_pathless_capture(struct amber_fd_rec *rec, const char *target, const struct stat *st) {
  struct statfs fs;
  if (amber_sys2(SYS_fstatfs, rec->fd, &fs) == 0 && fs.f_type == HUGETLBFS_MAGIC) {
    amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
              "descriptor %d is a huge-page file (%s), which Amber cannot save yet", rec->fd,
              target);
    return -1;
  }
  rec->kind = strncmp(target, "/memfd:", 7) ? AMBER_FD_DELETED : AMBER_FD_MEMFD;
  rec->ino = st->st_ino;
  rec->u[FILE_MODE] = st->st_mode & 07777;
  rec->u[FILE_OWNER] = (uint64_t)st->st_uid << 32 | st->st_gid;
  amber_fmt(rec->path, sizeof rec->path, "%s", target);
  long off = amber_sys3(SYS_lseek, rec->fd, 0, SEEK_CUR);
  rec->offset = off < 0 ? 0 : off;
  long seals = amber_sys2(SYS_fcntl, rec->fd, F_GET_SEALS);
  rec->u[FILE_SEALS] = seals < 0 ? 0 : (uint64_t)seals;
  return 0;
}

int amber_fd_pathless_save_bytes(struct amber_fd_rec *rec) {
  struct stat st;
  if (amber_sys2(SYS_fstat, rec->fd, &st) < 0) goto fail;
  uint64_t size = (uint64_t)st.st_size;
  rec->u[FILE_SIZE] = size;
  rec->u[FILE_MAPPED] = (uint64_t)amber_share_inode_mapped(rec->ino);
  if (!size) return 0;
  /* A mapping of its own: the bytes can be large, and the image saves it like any memory. */
  long addr = amber_sys6(SYS_mmap, 0, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                         -1, 0);
  if (addr < 0 && addr > -4096) goto fail;
  rec->data = (uint64_t)addr;
  rec->data_len = size;
  /* A log opened for writing only, then deleted: its bytes are read through a reader of the
   * same file (/proc/self/fd opens the deleted file again). */
  int from = rec->fd;
  if ((rec->flags & O_ACCMODE) == O_WRONLY) {
    char self[64];
    amber_fmt(self, sizeof self, "/proc/thread-self/fd/%d", rec->fd);
    from = (int)amber_sys4(SYS_openat, AT_FDCWD, self, O_RDONLY | O_CLOEXEC, 0);
    if (from < 0) goto fail;
  }
  uint64_t done = 0;
  while (done < size) {
    long n = amber_sys4(SYS_pread64, from, (char *)addr + done, size - done, done);
    if (n <= 0) break;
    done += (uint64_t)n;
  }
  if (from != rec->fd) amber_sys1(SYS_close, from);
  if (done == size) return 0;
fail:
  amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
            "cannot read the bytes of the %s on descriptor %d (%s)", kind_name(rec), rec->fd,
            rec->path);
  return -1;
}

void amber_fd_pathless_release(struct amber_fd_rec *rec) {
  if (rec->data) amber_sys2(SYS_munmap, rec->data, rec->data_len);
  rec->data = rec->data_len = 0;
}

/* A file the application maps shared comes back as the memfd its mappings are made on
 * (agent_memory.c's share_region), so that both stay one file. */
static int shared_memory_file(const struct amber_fd_rec *rec) {
  return amber_broker_get(amber_key(AMBER_KEY_SHMEM, rec->ino), 0);
}

/* A deleted file comes back at its old path just long enough to be opened, so that its name
 * reads "PATH (deleted)" again; if something else has the path now, as a nameless file in
 * the same directory (O_TMPFILE). A file made with O_TMPFILE and never linked comes back so
 * too: the program may still give it a name with linkat, which a file unlinked refuses. */
static int make_deleted(const struct amber_fd_rec *rec) {
  if (rec->u[FILE_MAPPED]) return shared_memory_file(rec);
  char path[256];
  amber_undeleted_name(rec->path, 0, path, sizeof path);
  int mode = (int)rec->u[FILE_MODE];
  int fd = (rec->flags & O_TMPFILE) == O_TMPFILE
               ? -EEXIST
               : (int)amber_sys4(SYS_openat, AT_FDCWD, path,
                                 O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd >= 0) {
    amber_sys3(SYS_unlinkat, AT_FDCWD, path, 0);
  } else if (fd == -EEXIST) {
    char *slash = strrchr(path, '/');
    if (slash == path) slash++;
    *slash = 0;
    fd = (int)amber_sys4(SYS_openat, AT_FDCWD, path, O_RDWR | O_TMPFILE | O_CLOEXEC, mode);
  }
  if (fd >= 0) { /* as it was, whatever the umask and whoever restores it (a change of owner
                   * clears set-user-ID bits: the mode goes last) */
    amber_sys3(SYS_fchown, fd, (uint32_t)(rec->u[FILE_OWNER] >> 32), (uint32_t)rec->u[FILE_OWNER]);
    amber_sys2(SYS_fchmod, fd, mode);
  }
  return fd;
}

static int make_memfd(const struct amber_fd_rec *rec) {
  if (rec->u[FILE_MAPPED]) return shared_memory_file(rec);
  char name[250];
  amber_undeleted_name(rec->path, 7, name, sizeof name);
  return (int)amber_sys2(SYS_memfd_create, name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
}

int amber_fd_pathless_needs_peer(const struct amber_fd_rec *rec) {
  return amber_fd_is_pathless(rec) &&
         (rec->creator_vpid != amber.vpid || rec->creator_fd != rec->fd);
}

/* The file itself, open for reading and writing, with its bytes and seals. */
static int make_file(const struct amber_fd_rec *rec, int floor) {
  int fd = amber_fd_park(rec->kind == AMBER_FD_MEMFD ? make_memfd(rec) : make_deleted(rec), floor);
  if (fd < 0) return fd;
  long err = amber_sys2(SYS_ftruncate, fd, rec->u[FILE_SIZE]);
  if (!err && rec->data_len) err = amber_write_at(fd, (void *)rec->data, rec->data_len, 0);
  if (!err && rec->u[FILE_SEALS]) err = amber_sys3(SYS_fcntl, fd, F_ADD_SEALS, rec->u[FILE_SEALS]);
  if (err) {
    amber_sys1(SYS_close, fd);
    return (int)err;
  }
  return fd;
}

/* The file's creator (its first holder) makes it and offers it; every other description is
 * a new open of it, as it was, with its own access mode and offset. */
int amber_fd_pathless_restore(struct amber_fd_rec *rec, int floor) {
  uint64_t key = amber_key(AMBER_KEY_PATHLESS, rec->ino);
  int creator = !amber_fd_pathless_needs_peer(rec);
  int file = creator ? make_file(rec, floor) : amber_broker_get(key, 0);
  if (file < 0) return file;
  if (creator) {
    int err = amber_broker_put(key, 0, file);
    if (err) {
      amber_sys1(SYS_close, file);
      return err;
    }
  }
  int fd = file;
  if (!creator || (rec->flags & O_ACCMODE) != O_RDWR) {
    char self[64];
    amber_fmt(self, sizeof self, "/proc/thread-self/fd/%d", file);
    fd = amber_fd_park(
        (int)amber_sys4(SYS_openat, AT_FDCWD, self, (rec->flags & O_ACCMODE) | O_CLOEXEC, 0),
        floor);
    amber_sys1(SYS_close, file);
    if (fd < 0) return fd;
  }
  if (rec->offset && amber_sys3(SYS_lseek, fd, rec->offset, SEEK_SET) < 0) {
    amber_sys1(SYS_close, fd);
    return -EIO;
  }
  return amber_fd_place(fd, rec);
}

/* The creator saves the bytes; every other description opens the creator's file. */
static int pathless_frozen(struct amber_fd_rec *rec) {
  return amber_fd_pathless_needs_peer(rec) ? 0 : amber_fd_pathless_save_bytes(rec);
}

/* No recognise: fd_file.c hands memfds and deleted files over to amber_fd_pathless_capture. */
const struct amber_fd_ops amber_fd_pathless_ops = {
    .name = "pathless file",
    .kinds = AMBER_FD_BIT(AMBER_FD_MEMFD) | AMBER_FD_BIT(AMBER_FD_DELETED),
    .capture = amber_fd_pathless_capture,
    .frozen = pathless_frozen,
    .needs_peer = amber_fd_pathless_needs_peer,
    .restore = amber_fd_pathless_restore,
    .release = amber_fd_pathless_release,
    .may_create = amber_fd_any_creator,
};
