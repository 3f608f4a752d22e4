/* POSIX message queues (mq_open): the name, the attributes (mq_maxmsg, mq_msgsize), owner and
 * mode, and the messages with their priorities. A queue cannot be read without taking its
 * messages, so its first holder in the application (its creator, agent_share.c) takes them all
 * through a description of its own once every process is frozen, and sends them back at once in
 * the order it got them (highest priority first, oldest first within one): the queue is as it
 * was. At restore the creator makes the queue again under its name (one that exists then, the
 * original's left behind, is replaced: the application gets its queue as it was at the
 * snapshot), or, if it was unlinked, under a name of its own that it unlinks at once; it sends
 * the messages and offers the queue; every description is an open of it with its own access mode.
 * A notification registered with mq_notify is refused by name.
 *
 * Record: path "/name"; u[0] mq_maxmsg, u[1] mq_msgsize, u[2] uid << 32 | gid, u[3] 1 if
 * unlinked; file_mode; data/data_len the messages (struct message, one after another), nmsgs
 * how many. */
#include <fcntl.h>
#include <mqueue.h>
#include <string.h>
#include <sys/statfs.h>

#include "../../common/errno_name.h"
#include "../../common/broker.h"
#include "fd_kinds.h"

enum { AMBER_FD_MQUEUE = 14 };

#ifndef MQUEUE_MAGIC
#define MQUEUE_MAGIC 0x19800202 /* not in Debian 12's linux/magic.h */
#endif

struct message {
  uint32_t len, prio;
  char bytes[]; /* len, then padding to 8 */
};

static int refuse(const struct amber_fd_rec *rec, const char *why, int n) {
  char text[160];
  amber_fmt(text, sizeof text, why, n);
  amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
            "descriptor %d (POSIX message queue %s) %s", rec->fd, rec->path, text);
  return -1;
}

/* A refusal that names the errno ("(EACCES)"), as Amber's messages do. */
static int refuse_errno(const struct amber_fd_rec *rec, const char *what, long err) {
  char why[160];
  amber_fmt(why, sizeof why, "%s (%s)", what, amber_errno_name(err));
  return refuse(rec, why, 0);
}

/* A queue is known by its file system, which only the descriptor tells. */
static int mq_recognise(const char *target, const struct stat *st) {
  struct statfs fs;
  (void)target;
  return S_ISREG(st->st_mode) && amber_sys2(SYS_fstatfs, amber_fd_recognising, &fs) == 0 &&
         fs.f_type == MQUEUE_MAGIC;
}

static int mq_capture(struct amber_fd_rec *rec, const char *target, const struct stat *st) {
  rec->kind = AMBER_FD_MQUEUE;
  rec->u[3] = amber_is_deleted(target) != 0;
  amber_undeleted_name(target, 0, rec->path, sizeof rec->path);
  rec->ino = st->st_ino;
  rec->file_mode = st->st_mode;
  rec->u[2] = (uint64_t)st->st_uid << 32 | st->st_gid;
  struct mq_attr attr;
  long r = amber_sys3(SYS_mq_getsetattr, rec->fd, 0, &attr);
  if (r < 0) return refuse_errno(rec, "has attributes that cannot be read", r);
  rec->u[0] = (uint64_t)attr.mq_maxmsg;
  rec->u[1] = (uint64_t)attr.mq_msgsize;
  return 0;
}

/* "QSIZE:%-10lu NOTIFY:%-5d SIGNO:%-5d NOTIFY_PID:%-6d": is a notification registered? */
static int notified(int fd) {
  char text[160];
  long len = amber_sys4(SYS_pread64, fd, text, sizeof text - 1, 0);
  if (len <= 0) return 0;
  text[len] = 0;
  const char *p = strstr(text, "NOTIFY_PID:");
  uint64_t pid = 0;
  if (!p) return 0;
  p += 11;
  while (*p == ' ') p++;
  return !amber_parse_u64(&p, &pid, 10) && pid != 0;
}

/* Once every process is frozen, the creator: every message, taken and sent back in order. */
static int mq_frozen(struct amber_fd_rec *rec) {
  if (amber_fd_not_creator(rec)) return 0;
  char self[64];
  amber_fmt(self, sizeof self, "/proc/thread-self/fd/%d", rec->fd);
  int fd = (int)amber_sys4(SYS_openat, AT_FDCWD, self, O_RDWR | O_NONBLOCK | O_CLOEXEC, 0);
  if (fd < 0) return refuse_errno(rec, "cannot be opened to read its messages", fd);
  int err = 0;
  if (notified(fd)) err = refuse(rec, "has a notification registered (mq_notify), which Amber "
                                      "cannot save yet", 0);
  uint64_t room = rec->u[1] + sizeof(struct message) + 8;
  while (!err) {
    struct message *m = amber_fd_buffer(room);
    if (!m) {
      err = refuse(rec, "holds more messages than Amber's buffer (%d so far)", (int)rec->nmsgs);
      break;
    }
    long n = amber_sys5(SYS_mq_timedreceive, fd, m->bytes, rec->u[1], &m->prio, 0);
    if (n == -EAGAIN) {
      amber_ckpt.fd_buffer_used -= room; /* not used */
      break;
    }
    if (n < 0) {
      err = refuse_errno(rec, "cannot have its messages read", n);
      break;
    }
    m->len = (uint32_t)n;
    uint64_t used = (sizeof *m + (uint64_t)n + 7) & ~7ULL;
    amber_ckpt.fd_buffer_used -= room - used; /* the next one follows */
    if (!rec->data) rec->data = (uint64_t)m;
    rec->data_len += used;
    rec->nmsgs++;
  }
  /* Back in the order they came: the queue is as it was (on failure too: nothing is lost). */
  for (uint64_t off = 0; off < rec->data_len;) {
    struct message *m = (struct message *)(rec->data + off);
    long r = amber_sys5(SYS_mq_timedsend, fd, m->bytes, m->len, m->prio, 0);
    if (r < 0 && !err) err = refuse_errno(rec, "could not have a message sent back", r);
    off += (sizeof *m + m->len + 7) & ~7ULL;
  }
  amber_sys1(SYS_close, fd);
  return err;
}

/* The queue again, filled, open for reading and writing. */
static int make_queue(const struct amber_fd_rec *rec) {
  char name[sizeof rec->path + 32];
  if (rec->u[3]) /* unlinked: a name of its own, gone at once */
    amber_fmt(name, sizeof name, "amber-%lx-%d", rec->ino, amber_sys_getpid());
  else
    amber_fmt(name, sizeof name, "%s", rec->path + (rec->path[0] == '/'));
  if (!rec->u[3]) amber_sys1(SYS_mq_unlink, name); /* the original's, left behind */
  struct mq_attr attr = {.mq_maxmsg = (long)rec->u[0], .mq_msgsize = (long)rec->u[1]};
  int fd = (int)amber_sys4(SYS_mq_open, name, O_RDWR | O_CREAT | O_EXCL | O_NONBLOCK | O_CLOEXEC,
                           0600, &attr);
  if (fd < 0) return fd;
  if (rec->u[3]) amber_sys1(SYS_mq_unlink, name);
  long err = 0;
  for (uint64_t off = 0; off < rec->data_len && !err;) {
    struct message *m = (struct message *)(rec->data + off);
    err = amber_sys5(SYS_mq_timedsend, fd, m->bytes, m->len, m->prio, 0);
    off += (sizeof *m + m->len + 7) & ~7ULL;
  }
  struct stat st;
  if (!err) err = amber_sys2(SYS_fstat, fd, &st);
  uint32_t uid = (uint32_t)(rec->u[2] >> 32), gid = (uint32_t)rec->u[2];
  if (!err && (st.st_uid != uid || st.st_gid != gid)) err = amber_sys3(SYS_fchown, fd, uid, gid);
  if (!err) err = amber_sys2(SYS_fchmod, fd, rec->file_mode & 07777);
  if (err) {
    amber_sys1(SYS_close, fd);
    if (!rec->u[3]) amber_sys1(SYS_mq_unlink, name);
    return (int)err;
  }
  return fd;
}

static int mq_restore(struct amber_fd_rec *rec, int floor) {
  return amber_fd_keeper_restore(rec, floor, amber_key(AMBER_KEY_FD_KIND(AMBER_FD_MQUEUE), rec->ino),
                                 make_queue);
}

const struct amber_fd_ops amber_fd_mqueue_ops = {
    .name = "POSIX mqueue",
    .kinds = AMBER_FD_BIT(AMBER_FD_MQUEUE),
    .recognise = mq_recognise,
    .capture = mq_capture,
    .frozen = mq_frozen,
    .needs_peer = amber_fd_not_creator,
    .restore = mq_restore,
    .may_create = amber_fd_any_creator,
};
