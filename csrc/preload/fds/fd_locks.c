/* File locks: flock(2) locks, POSIX record locks (fcntl F_SETLK) and open-file-description locks
 * (F_OFD_SETLK). Read from /proc/self/fdinfo/N's "lock:" lines once every process is frozen
 * (the kernel lists there the locks of that open file description that this process owns: its
 * POSIX locks, and the description's flock and OFD locks), and taken again after a restore,
 * once every descriptor is back and before the program runs: a flock or OFD lock by the owner
 * of its description (agent_share.c), whose holders then share it as before; a POSIX lock by
 * the process that held it. A lock someone else took meanwhile fails the restore, naming the
 * file and the holder. Leases and any other kind are refused at the snapshot. */
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>

#include "../../common/errno_name.h"
#include "../../common/broker.h"
#include "../agent/agent_share.h"
#include "fd_kinds.h"
#include "fd_locks.h"

#define MAX_LOCKS 512

/* In the library's memory: the restored process finds them where the snapshot left them. */
static struct amber_lock_rec locks[MAX_LOCKS];
static int nlocks;

const struct amber_lock_rec *amber_locks_saved(int32_t *count) {
  *count = nlocks;
  return locks;
}

static const char *kind_name(int32_t kind) {
  return kind == AMBER_LOCK_FLOCK ? "flock" : kind == AMBER_LOCK_OFD ? "OFD lock" : "POSIX lock";
}

static const char *path_of(int fd) {
  for (int i = 0; i < amber_ckpt.nfds; i++)
    if (amber_ckpt.fds[i].fd == fd) return amber_ckpt.fds[i].path;
  return "?";
}

static const char *word(const char **p, int *len) {
  while (**p == ' ' || **p == '\t') (*p)++;
  const char *start = *p;
  while (**p && **p != ' ' && **p != '\t' && **p != '\n') (*p)++;
  *len = (int)(*p - start);
  return start;
}

static int is(const char *w, int len, const char *name) {
  return len == (int)strlen(name) && !strncmp(w, name, len);
}

static int64_t number(const char **p) {
  while (**p == ' ') (*p)++;
  int negative = **p == '-';
  if (negative) (*p)++;
  uint64_t v = 0;
  amber_parse_u64(p, &v, 10);
  return negative ? -(int64_t)v : (int64_t)v;
}

static int refuse(const struct amber_fd_rec *rec, const char *what) {
  amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
            "descriptor %d (%s) holds %s, which Amber cannot take again exactly", rec->fd,
            rec->kind == AMBER_FD_STDIO ? "a standard stream" : rec->path, what);
  return -1;
}

/* Another descriptor of this process, saved before rec, on the same open file description:
 * its POSIX locks are the same ones. */
static int seen_description(int index) {
  const struct amber_fd_rec *rec = &amber_ckpt.fds[index];
  for (int i = 0; i < index; i++)
    if (amber_ckpt.fds[i].owner_vpid == rec->owner_vpid &&
        amber_ckpt.fds[i].owner_fd == rec->owner_fd)
      return 1;
  return 0;
}

/* One "lock:" line: "1: POSIX  ADVISORY  WRITE 1234 fe:00:5678 100 149" (or ... 0 EOF). */
static int parse_line(const struct amber_fd_rec *rec, const char *p, struct amber_lock_rec *out) {
  int len;
  word(&p, &len); /* "1:" */
  const char *kind = word(&p, &len);
  if (is(kind, len, "FLOCK")) out->kind = AMBER_LOCK_FLOCK;
  else if (is(kind, len, "POSIX")) out->kind = AMBER_LOCK_POSIX;
  else if (is(kind, len, "OFDLCK")) out->kind = AMBER_LOCK_OFD;
  else if (is(kind, len, "LEASE")) return refuse(rec, "a lease (F_SETLEASE)");
  else if (is(kind, len, "DELEG")) return refuse(rec, "a delegation");
  else return refuse(rec, "a lock of a kind Amber does not know");
  const char *mode = word(&p, &len);
  if (!is(mode, len, "ADVISORY")) return refuse(rec, "a mandatory lock");
  const char *type = word(&p, &len);
  if (is(type, len, "WRITE")) out->type = F_WRLCK;
  else if (is(type, len, "READ")) out->type = F_RDLCK;
  else return refuse(rec, "a lock of neither read nor write type");
  number(&p); /* the pid: the owner is known by where the line is */
  word(&p, &len); /* device:inode */
  out->start = number(&p);
  while (*p == ' ') p++;
  out->end = *p == 'E' ? -1 : number(&p);
  out->fd = rec->fd;
  return 0;
}

static int capture_fd(int index) {
  static char info[1 << 16];
  const struct amber_fd_rec *rec = &amber_ckpt.fds[index];
  long n = amber_fdinfo_read(rec->fd, info, sizeof info);
  if (n <= 0) return 0;
  for (const char *line = strstr(info, "\nlock:"); line; line = strstr(line + 1, "\nlock:")) {
    struct amber_lock_rec lock = {0};
    if (parse_line(rec, line + 6, &lock)) return -1;
    if (rec->kind == AMBER_FD_STDIO) return refuse(rec, kind_name(lock.kind));
    /* A description's lock is taken again once, by its owner; a process's POSIX lock once. */
    if (lock.kind != AMBER_LOCK_POSIX ? !amber_fd_owned(rec) : seen_description(index)) continue;
    if (nlocks == MAX_LOCKS) {
      amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
                "it holds more than %d file locks, more than Amber can save", MAX_LOCKS);
      return -1;
    }
    locks[nlocks++] = lock;
  }
  return 0;
}

int amber_locks_capture(void) {
  nlocks = 0;
  for (int i = 0; i < amber_ckpt.nfds; i++)
    if (capture_fd(i)) return -1;
  return 0;
}

static void fill(struct flock *fl, const struct amber_lock_rec *lock, int type) {
  memset(fl, 0, sizeof *fl);
  fl->l_type = (short)type;
  fl->l_whence = SEEK_SET;
  fl->l_start = lock->start;
  fl->l_len = lock->end < 0 ? 0 : lock->end - lock->start + 1;
}

static long take(const struct amber_lock_rec *lock) {
  if (lock->kind == AMBER_LOCK_FLOCK)
    return amber_sys2(SYS_flock, lock->fd, (lock->type == F_WRLCK ? LOCK_EX : LOCK_SH) | LOCK_NB);
  struct flock fl;
  fill(&fl, lock, lock->type);
  return amber_sys3(SYS_fcntl, lock->fd, lock->kind == AMBER_LOCK_OFD ? F_OFD_SETLK : F_SETLK, &fl);
}

/* The system pid that holds what stands in the way, as the kernel says (0: unknown). For a
 * flock, from /proc/locks: the FLOCK line on the same inode. */
static long holder(const struct amber_lock_rec *lock) {
  if (lock->kind != AMBER_LOCK_FLOCK) {
    struct flock fl;
    fill(&fl, lock, lock->type);
    /* F_GETLK also sees OFD locks, as pid -1: no process to name then */
    long r = amber_sys3(SYS_fcntl, lock->fd, lock->kind == AMBER_LOCK_OFD ? F_OFD_GETLK : F_GETLK, &fl);
    return r == 0 && fl.l_type != F_UNLCK ? fl.l_pid : 0;
  }
  static char text[1 << 16];
  struct stat st;
  if (amber_sys2(SYS_fstat, lock->fd, &st) || amber_read_file("/proc/locks", text, sizeof text) <= 0)
    return 0;
  char inode[32];
  amber_fmt(inode, sizeof inode, ":%ld ", (long)st.st_ino);
  for (const char *line = text; *line;) {
    const char *end = strchr(line, '\n');
    if (!end) end = line + strlen(line);
    const char *hit = strstr(line, inode);
    const char *flock = strstr(line, " FLOCK ");
    const char *waiter = strstr(line, "->");
    if (hit && hit < end && flock && flock < end && !(waiter && waiter < end)) {
      const char *p = hit;
      while (p > line && p[-1] != ' ') p--; /* the start of "major:minor:inode" */
      p -= 2;                               /* the pid's last digit */
      while (p > line && p[-1] != ' ') p--;
      return number(&p);
    }
    line = *end ? end + 1 : end;
  }
  return 0;
}

static int cannot_take(const struct amber_lock_rec *lock, long err) {
  char range[64] = "";
  if (lock->kind != AMBER_LOCK_FLOCK && lock->end < 0)
    amber_fmt(range, sizeof range, ", bytes %ld to the end", (long)lock->start);
  else if (lock->kind != AMBER_LOCK_FLOCK)
    amber_fmt(range, sizeof range, ", bytes %ld-%ld", (long)lock->start, (long)lock->end);
  const char *type = lock->type == F_WRLCK ? "write" : "read";
  long pid = err == -EAGAIN || err == -EACCES ? holder(lock) : 0;
  if (pid > 0)
    amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
              "cannot take its %s %s on %s again (descriptor %d%s): process %d (a system pid, "
              "outside the restored application) holds a conflicting lock",
              type, kind_name(lock->kind), path_of(lock->fd), lock->fd, range, (int)pid);
  else
    amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
              "cannot take its %s %s on %s again (descriptor %d%s): %s (%s)", type,
              kind_name(lock->kind), path_of(lock->fd), lock->fd, range,
              err == -EAGAIN || err == -EACCES ? "another process holds a conflicting lock"
                                               : "the kernel refused it",
              amber_errno_name(err));
  return -1;
}

/* No process of the application may run before every other has its locks back (it could take
 * one of them first): each says it has them, then waits until every other has said so. */
static int barrier(int failed) {
  uint64_t key = AMBER_KEY_LOCKS;
  int token = (int)amber_sys3(SYS_openat, AT_FDCWD, "/", O_PATH | O_CLOEXEC);
  if (token < 0) return token;
  int err = amber_broker_put(key | (uint32_t)amber.vpid, 0, token);
  amber_sys1(SYS_close, token);
  struct amber_ctl *c = &amber.table->ctl;
  for (uint32_t i = 0; i < c->nslots && !err && !failed; i++) {
    if (!c->slots[i].vpid || c->slots[i].vpid == amber.vpid) continue;
    int fd = amber_broker_get(key | (uint32_t)c->slots[i].vpid, 0);
    if (fd < 0) err = fd;
    else amber_sys1(SYS_close, fd);
  }
  if (err && !failed)
    amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
              "the other processes did not say they had their file locks back (%s)",
              amber_errno_name(err));
  return err;
}

int amber_locks_after_restore(int failed) {
  for (int i = 0; i < nlocks && !failed; i++) {
    long err = take(&locks[i]);
    if (err) failed = cannot_take(&locks[i], err);
  }
  int err = barrier(failed); /* said even on a failure, so no other process waits in vain */
  return failed ? failed : err ? -1 : 0;
}
