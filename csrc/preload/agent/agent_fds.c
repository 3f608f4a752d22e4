/* Descriptors: the agent walks /proc/self/fd while the process is frozen and saves each
 * descriptor with the operations of its kind (fd_*.c); a kind Amber cannot save yet makes the
 * snapshot fail with a message naming it. What depends on other processes (a connected Unix
 * socket's peer and unread bytes) is saved once every process is frozen. After a restore they
 * are re-created in phases: first what this process makes alone, then what comes from others,
 * then what refers to other descriptors (epoll registrations). */
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>

#include "../../common/errno_name.h"
#include "agent.h"
#include "../../common/broker.h"
#include "agent_share.h"
#include "../fds/fd_kinds.h"
#include "../fds/fd_locks.h"

static int classify(struct amber_fd_rec *rec, const char *target, const struct stat *st,
                    int may_be_stdio) {
  struct amber_table *t = amber.table;
  if (may_be_stdio && rec->fd <= 2 && t->std_dev[rec->fd] == (int32_t)st->st_dev &&
      t->std_ino[rec->fd] == (int64_t)st->st_ino) {
    rec->kind = AMBER_FD_STDIO;
    return 0;
  }
  amber_fd_recognising = rec->fd;
  for (const struct amber_fd_ops *const *o = amber_fd_kinds; *o; o++)
    if ((*o)->recognise && (*o)->recognise(target, st)) {
      int err = (*o)->capture(rec, target, st);
      const struct amber_fd_ops *ops = amber_fd_ops_of(rec); /* the kind it was handed to */
      if (ops) amber_fmt(rec->kind_name, sizeof rec->kind_name, "%s", ops->name);
      return err;
    }
  amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
            "descriptor %d (%s) is of a kind Amber cannot save yet", rec->fd, target);
  return -1;
}

int amber_fds_capture(void) {
  static int32_t fds[AMBER_MAX_FDS + 1];
  amber_ckpt.nfds = 0;
  amber_ckpt.nepoll = 0;
  amber_ckpt.fd_buffer_used = 0;
  if (amber_fd_kinds_check() || amber_dnotify_capture()) return -1;
  int n = amber_list_numbers("/proc/thread-self/fd", fds, AMBER_MAX_FDS);
  if (n < 0) {
    if (n == -E2BIG)
      amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error, "more than %d descriptors are open",
                AMBER_MAX_FDS);
    else
      amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error, "cannot list /proc/self/fd");
    return -1;
  }
  int err = 0;
  for (int i = 0; i < n && !err; i++) {
    int fd = fds[i];
    if (amber_table_fd_is(fd)) continue; /* Amber's own (table_fd.c) */
    struct amber_fd_rec *rec = &amber_ckpt.fds[amber_ckpt.nfds];
    memset(rec, 0, sizeof *rec);
    rec->fd = fd;
    char link[64], target[sizeof rec->path + 64]; /* longer than a record holds: refused */
    amber_fmt(link, sizeof link, "/proc/thread-self/fd/%d", fd);
    long len = amber_sys4(SYS_readlinkat, AT_FDCWD, link, target, sizeof target - 1);
    target[len > 0 ? len : 0] = 0;
    struct stat st;
    if (len <= 0 || amber_sys2(SYS_fstat, fd, &st) < 0) continue; /* closed meanwhile */
    if (len >= (long)sizeof rec->path) { /* cut short, it would name another file */
      amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
                "descriptor %d names a path longer than %d bytes, which Amber cannot save: %s", fd,
                (int)sizeof rec->path - 1, target);
      err = -1;
      break;
    }
    rec->flags = (int32_t)amber_sys2(SYS_fcntl, fd, F_GETFL);
    rec->fdflags = (int32_t)amber_sys2(SYS_fcntl, fd, F_GETFD);
    err = classify(rec, target, &st, 1);
    if (!err) err = amber_fd_owner_capture(rec);
    if (!err) amber_ckpt.nfds++;
  }
  if (!err) err = amber_rights_capture(); /* descriptors in flight (unix_rights.c) */
  if (err) amber_fds_release();
  return err;
}

/* A descriptor on the launcher's stream's file that is not the launcher's stream itself (the
 * coordinator's kcmp with the supervisor says so): saved as what it is. */
int amber_fd_capture_not_stdio(struct amber_fd_rec *rec) {
  char link[64], target[256];
  amber_fmt(link, sizeof link, "/proc/thread-self/fd/%d", rec->fd);
  long len = amber_sys4(SYS_readlinkat, AT_FDCWD, link, target, sizeof target - 1);
  target[len > 0 ? len : 0] = 0;
  struct stat st;
  if (len <= 0 || amber_sys2(SYS_fstat, rec->fd, &st) < 0) return -1;
  struct termios tio;
  if (amber_sys3(SYS_ioctl, rec->fd, TCGETS, &tio) == 0) return 0; /* a terminal: the user's */
  rec->kind = 0;
  return classify(rec, target, &st, 0);
}

/* While every process of the application is frozen (the WRITE phase): each connected Unix
 * socket's peer, who shares what (agent_share.c), then the unread bytes of the pipes this
 * process creates and of the socket pair ends it owns, read now so that no process still
 * running adds or takes one. */
int amber_fds_capture_frozen(void) {
  int err = 0;
  for (int i = 0; i < amber_ckpt.nfds && !err; i++) {
    const struct amber_fd_ops *ops = amber_fd_ops_of(&amber_ckpt.fds[i]);
    if (ops && ops->frozen_peer) err = ops->frozen_peer(&amber_ckpt.fds[i]);
  }
  for (const struct amber_fd_ops *const *o = amber_fd_kinds; *o; o++)
    if ((*o)->peers_done) (*o)->peers_done();
  if (err) return err;
  if (amber_share_scan_fds()) return -1;
  for (int i = 0; i < amber_ckpt.nfds && !err; i++) {
    const struct amber_fd_ops *ops = amber_fd_ops_of(&amber_ckpt.fds[i]);
    if (ops && ops->frozen) err = ops->frozen(&amber_ckpt.fds[i]);
  }
  if (!err) err = amber_locks_capture(); /* file locks (fd_locks.c) */
  return err;
}

/* Moves a new descriptor above every descriptor still to be placed, so that creating one
 * never takes the number another is waiting for. */
int amber_fd_park(int fd, int floor) {
  if (fd < 0 || fd >= floor) return fd;
  int high = (int)amber_sys3(SYS_fcntl, fd, F_DUPFD_CLOEXEC, floor);
  amber_sys1(SYS_close, fd);
  return high;
}

int amber_fd_place(int fd, const struct amber_fd_rec *rec) {
  if (fd < 0) return fd;
  if (fd != rec->fd) {
    long r = amber_sys3(SYS_dup3, fd, rec->fd, 0);
    amber_sys1(SYS_close, fd);
    if (r < 0) return (int)r;
  }
  amber_sys3(SYS_fcntl, rec->fd, F_SETFD, rec->fdflags);
  amber_sys3(SYS_fcntl, rec->fd, F_SETFL, rec->flags);
  amber_fd_owner_restore(rec);
  return 0;
}

int amber_fds_floor(void) {
  int floor = 3;
  for (int i = 0; i < amber_ckpt.nfds; i++)
    if (amber_ckpt.fds[i].fd + 1 > floor) floor = amber_ckpt.fds[i].fd + 1;
  return floor;
}

static int create(struct amber_fd_rec *rec, int floor) {
  const struct amber_fd_ops *ops = amber_fd_ops_of(rec);
  return ops && ops->restore ? ops->restore(rec, floor) : -EINVAL;
}

const char *amber_fd_restore_detail;

static int failed(const struct amber_fd_rec *rec, int err) {
  if (err == -ESTALE || err == -ELOOP) {
    amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
              "descriptor %d: %s is not the file it had open (replaced since the snapshot%s)",
              rec->fd, rec->path, err == -ELOOP ? ", by a symbolic link" : "");
    return -1;
  }
  const char *detail = amber_fd_restore_detail;
  amber_fd_restore_detail = 0;
  amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
            "cannot re-create descriptor %d (%s): %s%s%s", rec->fd, rec->path,
            amber_errno_name(err), detail ? " setting " : "", detail ? detail : "");
  return -1;
}

/* The phases of a restore, so that no process waits on another that waits on it:
 *  1. what this process owns and can make alone, offered to the others at once;
 *  2. what it owns but makes from another process's phase-1 object (a pipe end, the second
 *     end of a socket pair), offered at once; then what others own, taken from them;
 *  3. a wait until every socket pair it holds has both ends' unread bytes back, so that the
 *     program sends nothing ahead of them; then epoll registrations, now that every watched
 *     descriptor exists.
 * Phase 1 waits on nobody, phase 2 only on phase 1 and the first half of phase 2, phase 3
 * only on phases 1 and 2. */
int amber_fd_owned(const struct amber_fd_rec *rec) {
  return rec->owner_vpid == amber.vpid && rec->owner_fd == rec->fd;
}

static int needs_peer(const struct amber_fd_rec *rec) {
  const struct amber_fd_ops *ops = amber_fd_ops_of(rec);
  return ops && ops->needs_peer && ops->needs_peer(rec);
}

int amber_fds_after_restore(void) {
  int floor = amber_fds_floor();
  uint64_t key = AMBER_KEY_DESCRIPTION | (uint32_t)amber.vpid;
  for (int i = 0; i < amber_ckpt.nfds; i++) {
    struct amber_fd_rec *rec = &amber_ckpt.fds[i];
    /* A standard stream is already there (the restoring command's): offered as it is, so that
     * a dup of it (or a child's copy) is a dup of it again. */
    if (rec->kind == AMBER_FD_STDIO && amber_fd_owned(rec)) {
      int err = amber_broker_put(key, rec->fd, rec->fd);
      if (err) return failed(rec, err);
      continue;
    }
    if (rec->kind == AMBER_FD_STDIO || !amber_fd_owned(rec) || needs_peer(rec)) continue;
    int err = create(rec, floor);
    if (!err) err = amber_broker_put(key, rec->fd, rec->fd);
    if (err) return failed(rec, err);
  }
  for (int i = 0; i < amber_ckpt.nfds; i++) {
    struct amber_fd_rec *rec = &amber_ckpt.fds[i];
    if (rec->kind == AMBER_FD_STDIO || !amber_fd_owned(rec) || !needs_peer(rec)) continue;
    int err = create(rec, floor);
    if (!err) err = amber_broker_put(key, rec->fd, rec->fd);
    if (err) return failed(rec, err);
  }
  for (int i = 0; i < amber_ckpt.nfds; i++) {
    struct amber_fd_rec *rec = &amber_ckpt.fds[i];
    if (rec->kind == AMBER_FD_STDIO || amber_fd_owned(rec)) continue;
    int fd = amber_broker_get(AMBER_KEY_DESCRIPTION | (uint32_t)rec->owner_vpid, rec->owner_fd);
    int err = amber_fd_place(amber_fd_park(fd, floor), rec);
    if (err) return failed(rec, err);
  }
  const struct amber_fd_rec *late = 0; /* queues with descriptors in flight (unix_rights.c) */
  int sent = amber_rights_deliver(&late);
  if (sent) return failed(late, sent);
  for (int i = 0; i < amber_ckpt.nfds; i++) {
    const struct amber_fd_ops *ops = amber_fd_ops_of(&amber_ckpt.fds[i]);
    int err = ops && ops->settle ? ops->settle(&amber_ckpt.fds[i]) : 0;
    if (err) return failed(&amber_ckpt.fds[i], err);
  }
  for (int i = 0; i < amber_ckpt.nfds; i++) {
    const struct amber_fd_ops *ops = amber_fd_ops_of(&amber_ckpt.fds[i]);
    int err = ops && ops->link ? ops->link(&amber_ckpt.fds[i], floor) : 0;
    if (err) return failed(&amber_ckpt.fds[i], err);
  }
  return 0;
}

/* Space for saved bytes (unread pipe and socket data; a pathless file's have a mapping of their
 * own), in an anonymous mapping that the image
 * saves with the rest of memory, so the restored process finds the bytes where the agent left
 * them. */
void *amber_fd_buffer(uint64_t len) {
  if (amber_ckpt.fd_buffer_used + len > amber_ckpt.fd_buffer_size) {
    if (amber_ckpt.fd_buffer_used) return 0; /* one buffer per checkpoint, sized generously */
    uint64_t size = (len + (16 << 20) + 4095) & ~4095ULL;
    long addr = amber_sys6(SYS_mmap, 0, size, 3, 0x22 /* MAP_PRIVATE|MAP_ANONYMOUS */, -1, 0);
    if (addr < 0 && addr > -4096) return 0;
    amber_ckpt.fd_buffer = (void *)addr;
    amber_ckpt.fd_buffer_size = size;
  }
  void *p = (char *)amber_ckpt.fd_buffer + amber_ckpt.fd_buffer_used;
  amber_ckpt.fd_buffer_used += len;
  return p;
}

void amber_fds_release(void) {
  for (int i = 0; i < amber_ckpt.nfds; i++) {
    const struct amber_fd_ops *ops = amber_fd_ops_of(&amber_ckpt.fds[i]);
    if (ops && ops->release) ops->release(&amber_ckpt.fds[i]);
  }
  amber_rights_release();
  if (amber_ckpt.fd_buffer) amber_sys2(SYS_munmap, amber_ckpt.fd_buffer, amber_ckpt.fd_buffer_size);
  amber_ckpt.fd_buffer = 0;
  amber_ckpt.fd_buffer_size = amber_ckpt.fd_buffer_used = 0;
}
