/* SysV IPC: semaphore sets, shared-memory segments and message queues get virtual IDs.
 *
 * Creation (semget, shmget, msgget) lets the kernel create or find the object, then records
 * (kind, virtual, system, owner, key, flags, mode, size) in the application's table under its
 * lock, so every process of the application shares one mapping; an existing key gives the
 * kernel's existing system ID, hence the row already recorded for it and the same virtual ID.
 * Every call that takes an ID translates it; an unknown virtual ID is EINVAL, never passed on.
 * IDs and pids the kernel hands back (*_STAT results, cpid/lpid/lspid/lrpid, GETPID) are
 * translated back; a pid outside the application (or of a process already reaped) reads 0.
 *
 * semop, semtimedop, msgsnd and msgrcv may block, and the kernel never restarts them after a
 * signal handler: a checkpoint makes them fail with EINTR. They run outside any critical
 * section; when they fail with EINTR, EINVAL or EIDRM and a checkpoint happened meanwhile, the
 * ID is translated again (a restore gives the object a new system ID) and the call is retried.
 * A semtimedop retried this way starts its timeout over: clocks do not survive a migration.
 *
 * shmat remembers every attachment of this process (address, size, virtual shmid) in a static
 * array that the checkpoint agent reads through amber_sysv_shm_at (sysv.h). Slots are claimed
 * with atomic operations, not a lock, so threads may attach at once and a fork never inherits
 * a held lock. */
#include <stdarg.h>
#include <string.h>

#include "../core/amber.h"
#include "sysv.h"

#include "../../common/sysv_compat.h"

/* The caller defines union semun (POSIX); this is its layout. */
union amber_semun {
  int val;
  struct semid_ds *buf;
  unsigned short *array;
  struct seminfo *info;
};

static int fail(int err) {
  errno = err;
  return -1;
}

/* A system pid from the kernel as the program may see it: virtual, or 0 when the process is
 * not (or no longer) in the application. */
static pid_t pid_out_or_zero(pid_t spid) {
  if (spid <= 0) return spid;
  int32_t v = amber_pid_s2v(spid);
  return v > 0 ? v : 0;
}

/* Leaves the critical section without letting a deferred checkpoint change errno. */
static long leave_with(long r) {
  int err = errno;
  amber_leave();
  errno = err;
  return r;
}

static int32_t id_in(int kind, int vid) { return amber_v2s(amber.table, kind, vid); }

/* Records an object the kernel just created or found. Returns its virtual ID or -errno. */
static int32_t record_object(int kind, int32_t sid, key_t key, int flags, int32_t nitems,
                             int64_t size, int mode) {
  struct amber_table *t = amber.table;
  amber_table_lock(t);
  struct amber_row *row = amber_row_by_sid(t, kind, sid);
  int32_t vid = row ? row->vid : -ENOSPC;
  if (!row && (row = amber_row_alloc(t, kind))) {
    row->owner = amber.vpid;
    row->key = key;
    row->flags = flags;
    row->mode = mode;
    row->nitems = nitems;
    row->size = size;
    __atomic_store_n(&row->sid, sid, __ATOMIC_RELEASE);
    vid = row->vid;
  }
  amber_table_unlock(t);
  return vid;
}

/* Gives back the row of a removed object. */
static void forget_object(int kind, int32_t vid) {
  struct amber_table *t = amber.table;
  amber_table_lock(t);
  struct amber_row *row = amber_row_by_vid(t, kind, vid);
  if (row) amber_row_free(row);
  amber_table_unlock(t);
}

/* When the table is full the program gets ENOSPC, as from a full kernel table; an object that
 * this call certainly created is removed again, one it found by key is left alone. */
static int surely_created(key_t key, int flags) {
  return key == IPC_PRIVATE || (flags & (IPC_CREAT | IPC_EXCL)) == (IPC_CREAT | IPC_EXCL);
}

/* A blocking call failed: was it a checkpoint (and should it be made again)? */
static int ckpt_interrupted(uint32_t gen) {
  return (errno == EINTR || errno == EINVAL || errno == EIDRM) &&
         __atomic_load_n(&amber.checkpoints, __ATOMIC_ACQUIRE) != gen;
}

static uint32_t ckpt_gen(void) { return __atomic_load_n(&amber.checkpoints, __ATOMIC_ACQUIRE); }

/* ---- semaphores ---- */

/* Each creator returns the virtual ID or -errno, inside the caller's critical section: a
 * checkpoint cannot land between the kernel's creation and the row that records it. */
static int32_t semget_active(key_t key, int nsems, int flags) {
  int sid = REAL(semget)(key, nsems, flags);
  if (sid < 0) return -errno;
  /* An existing set found by key has its own size and mode: ask the kernel. */
  struct semid_ds ds;
  int32_t nitems = nsems, mode = flags & 0777;
  if (REAL(semctl)(sid, 0, IPC_STAT, (union amber_semun){.buf = &ds}) == 0) {
    nitems = (int32_t)ds.sem_nsems;
    mode = ds.sem_perm.mode & 0777;
  }
  int32_t vid = record_object(AMBER_KIND_SEM, sid, key, flags, nitems, 0, mode);
  if (vid < 0 && surely_created(key, flags)) REAL(semctl)(sid, 0, IPC_RMID);
  return vid;
}

AMBER_EXPORT int semget(key_t key, int nsems, int flags) {
  if (!amber_active()) return REAL(semget)(key, nsems, flags);
  amber_enter();
  int32_t vid = semget_active(key, nsems, flags);
  amber_leave();
  return vid < 0 ? fail(-vid) : vid;
}

AMBER_EXPORT int semtimedop(int semid, struct sembuf *sops, size_t nsops,
                            const struct timespec *timeout) {
  if (!amber_active()) return REAL(semtimedop)(semid, sops, nsops, timeout);
  for (;;) {
    uint32_t gen = ckpt_gen();
    int32_t sid = id_in(AMBER_KIND_SEM, semid);
    if (sid < 0) return fail(EINVAL);
    int r = REAL(semtimedop)(sid, sops, nsops, timeout);
    if (r == 0) amber_sysv_undo_note(semid, sops, nsops);
    if (r == 0 || !ckpt_interrupted(gen)) return r;
  }
}

AMBER_EXPORT int semop(int semid, struct sembuf *sops, size_t nsops) {
  return semtimedop(semid, sops, nsops, NULL);
}

static int sem_cmd_has_arg(int cmd) {
  switch (cmd) {
  case IPC_STAT: case IPC_SET: case IPC_INFO: case SEM_INFO: case SEM_STAT: case SEM_STAT_ANY:
  case GETALL: case SETALL: case SETVAL:
    return 1;
  default:
    return 0;
  }
}

/* The control calls do not block: each translates and calls inside one critical section, so a
 * checkpoint (and a restore that changes system IDs) cannot come between the two. */
static int semctl_active(int semid, int semnum, int cmd, union amber_semun arg) {
  switch (cmd) {
  case IPC_INFO:
  case SEM_INFO: /* system-wide figures; the ID is ignored */
    return REAL(semctl)(semid, semnum, cmd, arg);
  case SEM_STAT:
  case SEM_STAT_ANY: { /* takes a kernel index, returns the system ID found there */
    int sid = REAL(semctl)(semid, semnum, cmd, arg);
    if (sid < 0) return sid;
    int32_t vid = amber_s2v(amber.table, AMBER_KIND_SEM, sid);
    if (vid < 0) {
      if (arg.buf) memset(arg.buf, 0, sizeof *arg.buf);
      return fail(EINVAL);
    }
    return vid;
  }
  }
  int32_t sid = id_in(AMBER_KIND_SEM, semid);
  if (sid < 0) return fail(EINVAL);
  int r = REAL(semctl)(sid, semnum, cmd, arg);
  if (r < 0) return r;
  if (cmd == SETVAL || cmd == SETALL) amber_sysv_undo_cleared(semid);
  if (cmd == IPC_RMID) forget_object(AMBER_KIND_SEM, semid);
  if (cmd == GETPID) r = pid_out_or_zero(r);
  return r;
}

AMBER_EXPORT int semctl(int semid, int semnum, int cmd, ...) {
  union amber_semun arg = {0};
  if (sem_cmd_has_arg(cmd)) {
    va_list ap;
    va_start(ap, cmd);
    arg = va_arg(ap, union amber_semun);
    va_end(ap);
  }
  if (!amber_active()) return REAL(semctl)(semid, semnum, cmd, arg);
  amber_enter();
  return (int)leave_with(semctl_active(semid, semnum, cmd, arg));
}

/* ---- shared memory ---- */

#define SHM_ATTACH_MAX 256

enum { ATTACH_FREE = 0, ATTACH_BUSY = 1, ATTACH_LIVE = 2 };

struct shm_attachment {
  int32_t state; /* ATTACH_*: claimed with compare-and-swap */
  int32_t vid;
  uint64_t addr;
  uint64_t size;
};

static struct shm_attachment attachments[SHM_ATTACH_MAX];

static int attach_claim(int32_t from, int i) {
  int32_t expected = from;
  return __atomic_compare_exchange_n(&attachments[i].state, &expected, ATTACH_BUSY, 0,
                                     __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

static void attach_set(int i, int32_t state) {
  __atomic_store_n(&attachments[i].state, state, __ATOMIC_RELEASE);
}

/* The live slot of the attachment at addr, claimed (busy) for the caller; -1 if none. */
static int attach_take(uint64_t addr) {
  for (int i = 0; i < SHM_ATTACH_MAX; i++)
    if (__atomic_load_n(&attachments[i].state, __ATOMIC_ACQUIRE) == ATTACH_LIVE &&
        attachments[i].addr == addr && attach_claim(ATTACH_LIVE, i))
      return i;
  return -1;
}

/* A free slot, claimed for the caller; -1 when all are used. */
static int attach_new(void) {
  for (int i = 0; i < SHM_ATTACH_MAX; i++)
    if (attach_claim(ATTACH_FREE, i)) return i;
  return -1;
}

int32_t amber_sysv_shm_at(uint64_t addr) {
  for (int i = 0; i < SHM_ATTACH_MAX; i++)
    if (__atomic_load_n(&attachments[i].state, __ATOMIC_ACQUIRE) == ATTACH_LIVE &&
        attachments[i].addr == addr) {
      /* A segment removed while attached has no row, so nothing would re-create it. */
      int32_t vid = attachments[i].vid;
      return amber_row_by_vid(amber.table, AMBER_KIND_SHM, vid) ? vid : -1;
    }
  return -1;
}

static int32_t shmget_active(key_t key, size_t size, int flags) {
  int sid = REAL(shmget)(key, size, flags);
  if (sid < 0) return -errno;
  struct shmid_ds ds;
  int64_t real_size = (int64_t)size;
  int32_t mode = flags & 0777;
  if (REAL(shmctl)(sid, IPC_STAT, &ds) == 0) {
    real_size = (int64_t)ds.shm_segsz;
    mode = ds.shm_perm.mode & 0777;
  }
  int32_t vid = record_object(AMBER_KIND_SHM, sid, key, flags, 0, real_size, mode);
  if (vid < 0 && surely_created(key, flags)) REAL(shmctl)(sid, IPC_RMID, NULL);
  return vid;
}

AMBER_EXPORT int shmget(key_t key, size_t size, int flags) {
  if (!amber_active()) return REAL(shmget)(key, size, flags);
  amber_enter();
  int32_t vid = shmget_active(key, size, flags);
  amber_leave();
  return vid < 0 ? fail(-vid) : vid;
}

static int shmat_active(int shmid, const void *addr, int flags, void **out) {
  struct amber_row *row = amber_row_by_vid(amber.table, AMBER_KIND_SHM, shmid);
  int32_t sid = row ? __atomic_load_n(&row->sid, __ATOMIC_ACQUIRE) : -1;
  if (sid < 0) return -EINVAL;
  uint64_t size = (uint64_t)row->size;
  int slot = attach_new();
  if (slot < 0) { /* the agent could not save an attachment it does not know of */
    amber_log("shmat: more than %d attachments in one process", SHM_ATTACH_MAX);
    return -ENOMEM;
  }
  void *at = REAL(shmat)(sid, addr, flags);
  if (at == (void *)-1) {
    int err = errno;
    attach_set(slot, ATTACH_FREE);
    return -err;
  }
  /* SHM_REMAP may have replaced an attachment at the same address. */
  int old = attach_take((uint64_t)(uintptr_t)at);
  if (old >= 0) attach_set(old, ATTACH_FREE);
  attachments[slot].vid = shmid;
  attachments[slot].addr = (uint64_t)(uintptr_t)at;
  attachments[slot].size = size;
  attach_set(slot, ATTACH_LIVE);
  *out = at;
  return 0;
}

AMBER_EXPORT void *shmat(int shmid, const void *addr, int flags) {
  if (!amber_active()) return REAL(shmat)(shmid, addr, flags);
  void *at = NULL;
  amber_enter();
  int err = shmat_active(shmid, addr, flags, &at);
  amber_leave();
  if (err) {
    errno = -err;
    return (void *)-1;
  }
  return at;
}

AMBER_EXPORT int shmdt(const void *addr) {
  if (!amber_active()) return REAL(shmdt)(addr);
  amber_enter();
  int slot = attach_take((uint64_t)(uintptr_t)addr);
  int r = REAL(shmdt)(addr);
  if (slot >= 0) attach_set(slot, r == 0 ? ATTACH_FREE : ATTACH_LIVE);
  return (int)leave_with(r);
}

static void shm_pids_out(struct shmid_ds *buf) {
  buf->shm_cpid = pid_out_or_zero(buf->shm_cpid);
  buf->shm_lpid = pid_out_or_zero(buf->shm_lpid);
}

static int shmctl_active(int shmid, int cmd, struct shmid_ds *buf) {
  switch (cmd) {
  case IPC_INFO:
  case SHM_INFO:
    return REAL(shmctl)(shmid, cmd, buf);
  case SHM_STAT:
  case SHM_STAT_ANY: {
    int sid = REAL(shmctl)(shmid, cmd, buf);
    if (sid < 0) return sid;
    int32_t vid = amber_s2v(amber.table, AMBER_KIND_SHM, sid);
    if (vid < 0) {
      memset(buf, 0, sizeof *buf);
      return fail(EINVAL);
    }
    shm_pids_out(buf);
    return vid;
  }
  }
  int32_t sid = id_in(AMBER_KIND_SHM, shmid);
  if (sid < 0) return fail(EINVAL);
  int r = REAL(shmctl)(sid, cmd, buf);
  if (r < 0) return r;
  if (cmd == IPC_RMID) forget_object(AMBER_KIND_SHM, shmid);
  if (cmd == IPC_STAT) shm_pids_out(buf);
  return r;
}

AMBER_EXPORT int shmctl(int shmid, int cmd, struct shmid_ds *buf) {
  if (!amber_active()) return REAL(shmctl)(shmid, cmd, buf);
  amber_enter();
  return (int)leave_with(shmctl_active(shmid, cmd, buf));
}

/* ---- message queues ---- */

static int32_t msgget_active(key_t key, int flags) {
  int sid = REAL(msgget)(key, flags);
  if (sid < 0) return -errno;
  struct msqid_ds ds;
  int32_t mode = flags & 0777;
  if (REAL(msgctl)(sid, IPC_STAT, &ds) == 0) mode = ds.msg_perm.mode & 0777;
  int32_t vid = record_object(AMBER_KIND_MSG, sid, key, flags, 0, 0, mode);
  if (vid < 0 && surely_created(key, flags)) REAL(msgctl)(sid, IPC_RMID, NULL);
  return vid;
}

AMBER_EXPORT int msgget(key_t key, int flags) {
  if (!amber_active()) return REAL(msgget)(key, flags);
  amber_enter();
  int32_t vid = msgget_active(key, flags);
  amber_leave();
  return vid < 0 ? fail(-vid) : vid;
}

AMBER_EXPORT int msgsnd(int msqid, const void *msg, size_t size, int flags) {
  if (!amber_active()) return REAL(msgsnd)(msqid, msg, size, flags);
  for (;;) {
    uint32_t gen = ckpt_gen();
    int32_t sid = id_in(AMBER_KIND_MSG, msqid);
    if (sid < 0) return fail(EINVAL);
    int r = REAL(msgsnd)(sid, msg, size, flags);
    if (r == 0 || !ckpt_interrupted(gen)) return r;
  }
}

AMBER_EXPORT ssize_t msgrcv(int msqid, void *msg, size_t size, long type, int flags) {
  if (!amber_active()) return REAL(msgrcv)(msqid, msg, size, type, flags);
  for (;;) {
    uint32_t gen = ckpt_gen();
    int32_t sid = id_in(AMBER_KIND_MSG, msqid);
    if (sid < 0) return fail(EINVAL);
    ssize_t r = REAL(msgrcv)(sid, msg, size, type, flags);
    if (r >= 0 || !ckpt_interrupted(gen)) return r;
  }
}

static void msq_pids_out(struct msqid_ds *buf) {
  buf->msg_lspid = pid_out_or_zero(buf->msg_lspid);
  buf->msg_lrpid = pid_out_or_zero(buf->msg_lrpid);
}

static int msgctl_active(int msqid, int cmd, struct msqid_ds *buf) {
  switch (cmd) {
  case IPC_INFO:
  case MSG_INFO:
    return REAL(msgctl)(msqid, cmd, buf);
  case MSG_STAT:
  case MSG_STAT_ANY: {
    int sid = REAL(msgctl)(msqid, cmd, buf);
    if (sid < 0) return sid;
    int32_t vid = amber_s2v(amber.table, AMBER_KIND_MSG, sid);
    if (vid < 0) {
      memset(buf, 0, sizeof *buf);
      return fail(EINVAL);
    }
    msq_pids_out(buf);
    return vid;
  }
  }
  int32_t sid = id_in(AMBER_KIND_MSG, msqid);
  if (sid < 0) return fail(EINVAL);
  int r = REAL(msgctl)(sid, cmd, buf);
  if (r < 0) return r;
  if (cmd == IPC_RMID) forget_object(AMBER_KIND_MSG, msqid);
  if (cmd == IPC_STAT) msq_pids_out(buf);
  return r;
}

AMBER_EXPORT int msgctl(int msqid, int cmd, struct msqid_ds *buf) {
  if (!amber_active()) return REAL(msgctl)(msqid, cmd, buf);
  amber_enter();
  return (int)leave_with(msgctl_active(msqid, cmd, buf));
}
