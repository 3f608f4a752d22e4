/* Saving and re-creating an application's SysV IPC objects (semaphore sets, shared-memory
 * segments, message queues), from the control library: the save runs while every process of
 * the application is frozen, the restore before any restored process runs.
 *
 * <image>/ipc.bin, native byte order (x86-64), written as ipc.bin.tmp and renamed when whole:
 *   header   u64 magic "AMBRIPC1", u32 version (1), u32 reserved (0)
 *   records  one per live SEM, SHM and MSG row of the table, each
 *              u32 kind (enum amber_kind), i32 virtual ID, u32 count, u32 reserved,
 *              u64 extra, u64 bytes, then `bytes` bytes of payload:
 *            SEM  count = semaphores in the set; payload: count u16 values (GETALL)
 *            SHM  count = 0; bytes = the segment's size; payload: its contents
 *            MSG  count = messages; extra = msg_qbytes; payload: per message, in queue order,
 *                 i64 mtype, u64 length, then length bytes of text
 *   trailer  a record of kind 0xffffffff whose virtual ID is the number of records, no payload;
 *            a file without it is truncated.
 * The rows themselves (key, mode, sizes) travel in the image's copy of the tables.
 *
 * Saving a queue's messages takes them out (msgrcv, IPC_NOWAIT, until ENOMSG) and puts them
 * back in the same order, so the running application keeps every message; only the queue's
 * last sender and receiver pids and times now name the control process.
 *
 * Restore re-creates each object with a new system ID, under its original key (IPC_CREAT |
 * IPC_EXCL: a key taken on this machine fails with -EEXIST) or IPC_PRIVATE, first with mode
 * 0600 so that it can be filled, then with the row's mode. Nothing is written into the table
 * until every object exists; on failure the objects made so far are removed again. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

#include "../common/table.h"
#include "control.h"

#define API __attribute__((visibility("default")))

#define IPC_FILE_MAGIC 0x3143504952424d41ULL /* "AMBRIPC1" */
#define IPC_FILE_VERSION 1
#define IPC_RECORD_END 0xffffffffu

#include "../common/sysv_compat.h"

/* The kernel's index of a SysV ID (ipcid_to_idx): what the *_STAT_ANY commands take. */
#define IPC_INDEX(sid) ((sid) & 0x7fff)

struct ipc_header {
  uint64_t magic;
  uint32_t version;
  uint32_t reserved;
};

struct ipc_record {
  uint32_t kind;
  int32_t vid;
  uint32_t count;
  uint32_t reserved;
  uint64_t extra;
  uint64_t bytes;
};

struct msg_head {
  int64_t type;
  uint64_t length;
};

union semun_arg {
  int val;
  struct semid_ds *buf;
  unsigned short *array;
};

static int write_all(int fd, const void *buf, size_t n) {
  const char *p = buf;
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return -errno;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int read_all(int fd, void *buf, size_t n) {
  char *p = buf;
  while (n) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -errno;
    if (r == 0) return -EPROTO; /* truncated */
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

static int is_ipc_kind(int kind) {
  return kind == AMBER_KIND_SEM || kind == AMBER_KIND_SHM || kind == AMBER_KIND_MSG;
}

/* ---- permissions: the control process may need to lift the owner's bits for a while ---- */

/* IPC_STAT needs read permission; the *_STAT_ANY commands (Linux 4.17) do not. */
static int sem_stat(int sid, struct semid_ds *ds) {
  if (semctl(sid, 0, IPC_STAT, (union semun_arg){.buf = ds}) == 0) return 0;
  if (errno != EACCES) return -errno;
  int r = semctl(IPC_INDEX(sid), 0, SEM_STAT_ANY, (union semun_arg){.buf = ds});
  return r < 0 ? -errno : r == sid ? 0 : -EIDRM;
}

static int shm_stat(int sid, struct shmid_ds *ds) {
  if (shmctl(sid, IPC_STAT, ds) == 0) return 0;
  if (errno != EACCES) return -errno;
  int r = shmctl(IPC_INDEX(sid), SHM_STAT_ANY, ds);
  return r < 0 ? -errno : r == sid ? 0 : -EIDRM;
}

static int msg_stat(int sid, struct msqid_ds *ds) {
  if (msgctl(sid, IPC_STAT, ds) == 0) return 0;
  if (errno != EACCES) return -errno;
  int r = msgctl(IPC_INDEX(sid), MSG_STAT_ANY, ds);
  return r < 0 ? -errno : r == sid ? 0 : -EIDRM;
}

/* Gives the owner read and write access if it lacks them; returns the mode to put back, or
 * -1 when nothing was changed (or could not be: then the call may still be allowed). */
static int widen_sem(int sid, struct semid_ds *ds) {
  int mode = ds->sem_perm.mode & 0777;
  if ((mode & 0600) == 0600) return -1;
  ds->sem_perm.mode = (unsigned short)(mode | 0600);
  if (semctl(sid, 0, IPC_SET, (union semun_arg){.buf = ds})) return -1;
  return mode;
}

static void narrow_sem(int sid, struct semid_ds *ds, int mode) {
  if (mode < 0) return;
  ds->sem_perm.mode = (unsigned short)mode;
  semctl(sid, 0, IPC_SET, (union semun_arg){.buf = ds});
}

static int widen_shm(int sid, struct shmid_ds *ds) {
  int mode = ds->shm_perm.mode & 0777;
  if ((mode & 0600) == 0600) return -1;
  ds->shm_perm.mode = (unsigned short)(mode | 0600);
  return shmctl(sid, IPC_SET, ds) ? -1 : mode;
}

static void narrow_shm(int sid, struct shmid_ds *ds, int mode) {
  if (mode < 0) return;
  ds->shm_perm.mode = (unsigned short)mode;
  shmctl(sid, IPC_SET, ds);
}

static int widen_msg(int sid, struct msqid_ds *ds) {
  int mode = ds->msg_perm.mode & 0777;
  if ((mode & 0600) == 0600) return -1;
  ds->msg_perm.mode = (unsigned short)(mode | 0600);
  return msgctl(sid, IPC_SET, ds) ? -1 : mode;
}

static void narrow_msg(int sid, struct msqid_ds *ds, int mode) {
  if (mode < 0) return;
  ds->msg_perm.mode = (unsigned short)mode;
  msgctl(sid, IPC_SET, ds);
}

/* ---- save ---- */

static int save_sem(int fd, const struct amber_row *row) {
  struct semid_ds ds;
  int err = sem_stat(row->sid, &ds);
  if (err) return err;
  uint32_t n = (uint32_t)ds.sem_nsems;
  unsigned short *values = calloc(n ? n : 1, sizeof *values);
  if (!values) return -ENOMEM;
  int mode = widen_sem(row->sid, &ds);
  if (semctl(row->sid, 0, GETALL, (union semun_arg){.array = values}) < 0) err = -errno;
  narrow_sem(row->sid, &ds, mode);
  struct ipc_record rec = {.kind = AMBER_KIND_SEM, .vid = row->vid, .count = n,
                           .bytes = (uint64_t)n * sizeof(uint16_t)};
  if (!err) err = write_all(fd, &rec, sizeof rec);
  if (!err) err = write_all(fd, values, rec.bytes);
  free(values);
  return err;
}

static int save_shm(int fd, const struct amber_row *row) {
  struct shmid_ds ds;
  int err = shm_stat(row->sid, &ds);
  if (err) return err;
  int mode = widen_shm(row->sid, &ds);
  void *p = shmat(row->sid, NULL, SHM_RDONLY);
  if (p == (void *)-1) err = -errno;
  narrow_shm(row->sid, &ds, mode);
  if (err) return err;
  struct ipc_record rec = {.kind = AMBER_KIND_SHM, .vid = row->vid, .bytes = ds.shm_segsz};
  err = write_all(fd, &rec, sizeof rec);
  if (!err) err = write_all(fd, p, ds.shm_segsz);
  shmdt(p);
  return err;
}

/* The messages of one queue, in order, each as struct msg_head then its text. */
struct msg_list {
  char *data;
  size_t len, cap;
  uint32_t count;
};

static int list_append(struct msg_list *l, long type, const void *text, size_t n) {
  size_t need = l->len + sizeof(struct msg_head) + n;
  if (need > l->cap) {
    size_t cap = l->cap ? l->cap : 4096;
    while (cap < need) cap *= 2;
    char *data = realloc(l->data, cap);
    if (!data) return -ENOMEM;
    l->data = data;
    l->cap = cap;
  }
  struct msg_head h = {.type = type, .length = n};
  memcpy(l->data + l->len, &h, sizeof h);
  memcpy(l->data + l->len + sizeof h, text, n);
  l->len = need;
  l->count++;
  return 0;
}

/* Sends every message of the list, in order, without waiting. */
static int send_all(int sid, const struct msg_list *l) {
  size_t off = 0;
  char *buf = NULL;
  size_t buf_cap = 0;
  int err = 0;
  while (!err && off < l->len) {
    struct msg_head h;
    memcpy(&h, l->data + off, sizeof h);
    size_t need = sizeof(long) + h.length;
    if (need > buf_cap) {
      char *b = realloc(buf, need);
      if (!b) {
        err = -ENOMEM;
        break;
      }
      buf = b;
      buf_cap = need;
    }
    long type = (long)h.type;
    memcpy(buf, &type, sizeof type);
    memcpy(buf + sizeof(long), l->data + off + sizeof h, h.length);
    while (msgsnd(sid, buf, h.length, IPC_NOWAIT) < 0)
      if (errno != EINTR) {
        err = errno == EAGAIN ? -ENOSPC : -errno;
        break;
      }
    off += sizeof h + h.length;
  }
  free(buf);
  return err;
}

/* Takes every message out of the queue, then puts them all back in the same order. */
static int drain_and_refill(int sid, struct msg_list *l) {
  size_t cap = 65536;
  char *buf = malloc(sizeof(long) + cap);
  if (!buf) return -ENOMEM;
  int err = 0;
  for (;;) {
    ssize_t n = msgrcv(sid, buf, cap, 0, IPC_NOWAIT);
    if (n >= 0) {
      long type;
      memcpy(&type, buf, sizeof type);
      if ((err = list_append(l, type, buf + sizeof(long), (size_t)n))) break;
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == E2BIG) { /* a larger message than any seen so far: grow and take it again */
      char *b = realloc(buf, sizeof(long) + cap * 2);
      if (!b) {
        err = -ENOMEM;
        break;
      }
      buf = b;
      cap *= 2;
      continue;
    }
    if (errno != ENOMSG) err = -errno;
    break;
  }
  free(buf);
  int put = send_all(sid, l);
  return err ? err : put;
}

static int save_msg(int fd, const struct amber_row *row) {
  struct msqid_ds ds;
  int err = msg_stat(row->sid, &ds);
  if (err) return err;
  /* Messages that no longer fit the queue's limit could be taken out but not put back. */
  if (ds.__msg_cbytes > ds.msg_qbytes) return -EOVERFLOW;
  struct msg_list list = {0};
  int mode = widen_msg(row->sid, &ds);
  err = drain_and_refill(row->sid, &list);
  narrow_msg(row->sid, &ds, mode);
  struct ipc_record rec = {.kind = AMBER_KIND_MSG, .vid = row->vid, .count = list.count,
                           .extra = ds.msg_qbytes, .bytes = list.len};
  if (!err) err = write_all(fd, &rec, sizeof rec);
  if (!err) err = write_all(fd, list.data, list.len);
  free(list.data);
  return err;
}

/* A copy of the live IPC rows, taken under the lock. */
struct ipc_row {
  int kind;
  struct amber_row row;
};

/* Returns how many rows, or -errno. */
static int ipc_rows(struct amber_table *t, struct ipc_row **out) {
  struct ipc_row *rows = malloc(sizeof *rows * AMBER_TABLE_ROWS * 3);
  if (!rows) return -ENOMEM;
  int n = 0;
  amber_table_lock(t);
  for (int kind = 0; kind < AMBER_KIND_COUNT; kind++) {
    if (!is_ipc_kind(kind)) continue;
    for (uint32_t i = 0; i < t->high[kind] && i < AMBER_TABLE_ROWS; i++)
      if (t->rows[kind][i].state == AMBER_ROW_LIVE)
        rows[n++] = (struct ipc_row){.kind = kind, .row = t->rows[kind][i]};
  }
  amber_table_unlock(t);
  *out = rows;
  return n;
}

static int save_row(int fd, const struct ipc_row *r) {
  if (r->row.sid < 0) return -ESTALE; /* never re-created after a restore */
  switch (r->kind) {
  case AMBER_KIND_SEM: return save_sem(fd, &r->row);
  case AMBER_KIND_SHM: return save_shm(fd, &r->row);
  default: return save_msg(fd, &r->row);
  }
}

API int32_t amber_ctl_ipc_save(void *table, const char *image_dir) {
  struct amber_table *t = table;
  char path[4096], tmp[4096];
  snprintf(path, sizeof path, "%s/ipc.bin", image_dir);
  snprintf(tmp, sizeof tmp, "%s/ipc.bin.tmp", image_dir);
  struct ipc_row *rows;
  int n = ipc_rows(t, &rows);
  if (n < 0) return n;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    free(rows);
    return -errno;
  }
  struct ipc_header h = {.magic = IPC_FILE_MAGIC, .version = IPC_FILE_VERSION};
  int err = write_all(fd, &h, sizeof h);
  for (int i = 0; i < n && !err; i++) err = save_row(fd, &rows[i]);
  struct ipc_record end = {.kind = IPC_RECORD_END, .vid = n};
  if (!err) err = write_all(fd, &end, sizeof end);
  if (!err && fsync(fd)) err = -errno;
  if (close(fd) && !err) err = -errno;
  if (!err && rename(tmp, path)) err = -errno;
  if (err) unlink(tmp);
  free(rows);
  return err;
}

/* ---- restore ---- */

/* New objects start with owner access only, so that they can be filled; the row's mode last. */
#define CREATE_FLAGS (IPC_CREAT | IPC_EXCL | 0600)

static void remove_object(int kind, int sid) {
  if (kind == AMBER_KIND_SEM) semctl(sid, 0, IPC_RMID);
  else if (kind == AMBER_KIND_SHM) shmctl(sid, IPC_RMID, NULL);
  else msgctl(sid, IPC_RMID, NULL);
}

static int set_mode(int kind, int sid, int mode) {
  mode &= 0777;
  if (mode == 0600) return 0;
  int r;
  if (kind == AMBER_KIND_SEM) {
    struct semid_ds ds;
    r = semctl(sid, 0, IPC_STAT, (union semun_arg){.buf = &ds});
    ds.sem_perm.mode = (unsigned short)mode;
    if (r == 0) r = semctl(sid, 0, IPC_SET, (union semun_arg){.buf = &ds});
  } else if (kind == AMBER_KIND_SHM) {
    struct shmid_ds ds;
    r = shmctl(sid, IPC_STAT, &ds);
    ds.shm_perm.mode = (unsigned short)mode;
    if (r == 0) r = shmctl(sid, IPC_SET, &ds);
  } else {
    struct msqid_ds ds;
    r = msgctl(sid, IPC_STAT, &ds);
    ds.msg_perm.mode = (unsigned short)mode;
    if (r == 0) r = msgctl(sid, IPC_SET, &ds);
  }
  return r ? -errno : 0;
}

static int fill_sem(int sid, int fd, const struct ipc_record *rec) {
  if (rec->bytes != (uint64_t)rec->count * sizeof(uint16_t)) return -EPROTO;
  unsigned short *values = malloc(rec->bytes);
  if (!values) return -ENOMEM;
  int err = read_all(fd, values, rec->bytes);
  if (!err && semctl(sid, 0, SETALL, (union semun_arg){.array = values}) < 0) err = -errno;
  free(values);
  return err;
}

static int fill_shm(int sid, int fd, const struct ipc_record *rec) {
  void *p = shmat(sid, NULL, 0);
  if (p == (void *)-1) return -errno;
  int err = read_all(fd, p, rec->bytes);
  shmdt(p);
  return err;
}

static int fill_msg(int sid, int fd, const struct ipc_record *rec) {
  struct msqid_ds ds;
  if (msgctl(sid, IPC_STAT, &ds)) return -errno;
  if (rec->extra && ds.msg_qbytes != rec->extra) {
    /* Above the machine's msgmnb this needs CAP_SYS_RESOURCE; without it the messages may
     * still fit, and msgsnd says so if they do not. */
    ds.msg_qbytes = rec->extra;
    msgctl(sid, IPC_SET, &ds);
  }
  struct msg_list list = {.data = malloc(rec->bytes ? rec->bytes : 1), .len = rec->bytes,
                          .count = rec->count};
  if (!list.data) return -ENOMEM;
  int err = read_all(fd, list.data, rec->bytes);
  /* Check the framing before sending anything. */
  size_t off = 0;
  uint32_t count = 0;
  while (!err && off < list.len) {
    struct msg_head h;
    if (list.len - off < sizeof h) break;
    memcpy(&h, list.data + off, sizeof h);
    if (h.type <= 0 || h.length > list.len - off - sizeof h) break;
    off += sizeof h + h.length;
    count++;
  }
  if (!err && (off != list.len || count != rec->count)) err = -EPROTO;
  if (!err) err = send_all(sid, &list);
  free(list.data);
  return err;
}

/* Re-creates one object from its record; returns the new system ID or -errno. */
static int restore_one(int fd, const struct ipc_row *r, const struct ipc_record *rec) {
  int sid;
  if (r->kind == AMBER_KIND_SEM) {
    if (rec->count == 0) return -EPROTO;
    sid = semget(r->row.key, (int)rec->count, CREATE_FLAGS);
    if (sid < 0) sid = -errno;
  } else if (r->kind == AMBER_KIND_SHM) {
    if (rec->bytes == 0) return -EPROTO;
    sid = shmget(r->row.key, rec->bytes, CREATE_FLAGS);
    if (sid < 0) sid = -errno;
  } else {
    sid = msgget(r->row.key, CREATE_FLAGS);
    if (sid < 0) sid = -errno;
  }
  if (sid < 0) return sid; /* -EEXIST: the key is taken on this machine */
  int err = r->kind == AMBER_KIND_SEM   ? fill_sem(sid, fd, rec)
            : r->kind == AMBER_KIND_SHM ? fill_shm(sid, fd, rec)
                                        : fill_msg(sid, fd, rec);
  if (!err) err = set_mode(r->kind, sid, r->row.mode);
  if (err) {
    remove_object(r->kind, sid);
    return err;
  }
  return sid;
}

/* Reads ipc.bin and re-creates an object for each record; made[i] gets rows[i]'s new ID. */
static int restore_records(int fd, struct ipc_row *rows, int n, int32_t *made) {
  /* Row index by (kind, slot), to find each record's row at once. */
  int32_t *index = malloc(sizeof *index * 3 * AMBER_TABLE_ROWS);
  if (!index) return -ENOMEM;
  for (int i = 0; i < 3 * AMBER_TABLE_ROWS; i++) index[i] = -1;
  for (int i = 0; i < n; i++)
    index[(rows[i].kind - AMBER_KIND_SEM) * AMBER_TABLE_ROWS + rows[i].row.vid -
          AMBER_VIPC_BASE] = i;

  struct ipc_header h;
  int err = read_all(fd, &h, sizeof h);
  if (!err && (h.magic != IPC_FILE_MAGIC || h.version != IPC_FILE_VERSION)) err = -EPROTO;
  int records = 0;
  while (!err) {
    struct ipc_record rec;
    if ((err = read_all(fd, &rec, sizeof rec))) break;
    if (rec.kind == IPC_RECORD_END) {
      if (rec.vid != records) err = -EPROTO;
      break;
    }
    int64_t slot = (int64_t)rec.vid - AMBER_VIPC_BASE;
    if (rec.kind > AMBER_KIND_MSG || !is_ipc_kind((int)rec.kind) || slot < 0 ||
        slot >= AMBER_TABLE_ROWS) {
      err = -EPROTO;
      break;
    }
    int i = index[(rec.kind - AMBER_KIND_SEM) * AMBER_TABLE_ROWS + slot];
    if (i < 0 || made[i] >= 0) { /* no such row in the tables, or a second record for it */
      err = -EPROTO;
      break;
    }
    int sid = restore_one(fd, &rows[i], &rec);
    if (sid < 0) err = sid;
    else made[i] = sid;
    records++;
  }
  for (int i = 0; i < n && !err; i++)
    if (made[i] < 0) err = -EPROTO; /* a row the image holds no contents for */
  free(index);
  return err;
}

API int32_t amber_ctl_ipc_restore(void *table, const char *image_dir) {
  struct amber_table *t = table;
  char path[4096];
  snprintf(path, sizeof path, "%s/ipc.bin", image_dir);
  struct ipc_row *rows;
  int n = ipc_rows(t, &rows);
  if (n < 0) return n;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno == ENOENT && n == 0 ? 0 : -errno;
    free(rows);
    return err;
  }
  int32_t *made = malloc(sizeof *made * (n ? n : 1));
  int err = made ? 0 : -ENOMEM;
  for (int i = 0; i < n && made; i++) made[i] = -1;
  if (!err) err = restore_records(fd, rows, n, made);
  close(fd);

  if (err) {
    for (int i = 0; i < n && made; i++)
      if (made[i] >= 0) remove_object(rows[i].kind, made[i]);
  } else {
    amber_table_lock(t);
    for (int i = 0; i < n; i++) {
      struct amber_row *row = amber_row_by_vid(t, rows[i].kind, rows[i].row.vid);
      if (row) __atomic_store_n(&row->sid, made[i], __ATOMIC_RELEASE);
    }
    amber_table_unlock(t);
  }
  free(made);
  free(rows);
  return err;
}
