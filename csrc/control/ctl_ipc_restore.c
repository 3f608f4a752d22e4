/* Re-creating an application's SysV IPC objects from <image>/ipc.bin (format: ctl_ipc.h),
 * before any restored process runs. */
#include "ctl_ipc.h"
#include "files.h"

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
  struct semid_ds ds;
  if (semctl(sid, 0, IPC_STAT, (union semun_arg){.buf = &ds}) < 0) return -errno;
  /* SETALL reads one value per semaphore of the set, whatever the image says. */
  if (rec->bytes != (uint64_t)rec->count * sizeof(uint16_t) || rec->count != ds.sem_nsems)
    return -EPROTO;
  unsigned short *values = malloc(rec->bytes);
  if (!values) return -ENOMEM;
  int err = ipc_read_all(fd, values, rec->bytes);
  if (!err && semctl(sid, 0, SETALL, (union semun_arg){.array = values}) < 0) err = -errno;
  free(values);
  return err;
}

static int fill_shm(int sid, int fd, const struct ipc_record *rec) {
  struct shmid_ds ds;
  if (shmctl(sid, IPC_STAT, &ds)) return -errno;
  if (rec->bytes > ds.shm_segsz) return -EPROTO; /* would write past the segment */
  void *p = shmat(sid, NULL, 0);
  if (p == (void *)-1) return -errno;
  int err = ipc_read_all(fd, p, rec->bytes);
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
  if (rec->bytes > ds.msg_qbytes && rec->bytes > (1u << 30)) return -EPROTO; /* never fits */
  struct msg_list list = {.data = malloc(rec->bytes ? rec->bytes : 1), .len = rec->bytes,
                          .count = rec->count};
  if (!list.data) return -ENOMEM;
  int err = ipc_read_all(fd, list.data, rec->bytes);
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
  if (!err) err = ipc_send_all(sid, &list);
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
  int err = ipc_read_all(fd, &h, sizeof h);
  if (!err && (h.magic != IPC_FILE_MAGIC || h.version != IPC_FILE_VERSION)) err = -EPROTO;
  int records = 0;
  while (!err) {
    struct ipc_record rec;
    if ((err = ipc_read_all(fd, &rec, sizeof rec))) break;
    if (rec.kind == IPC_RECORD_END) {
      if (rec.vid != records) err = -EPROTO;
      break;
    }
    int64_t slot = (int64_t)rec.vid - AMBER_VIPC_BASE;
    if (rec.kind > AMBER_KIND_MSG || !ipc_is_ipc_kind((int)rec.kind) || slot < 0 ||
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
  if (snprintf(path, sizeof path, "%s/ipc.bin", image_dir) >= (int)sizeof path)
    return -ENAMETOOLONG;
  struct ipc_row *rows;
  int n = ipc_rows(t, &rows);
  if (n < 0) return n;
  int fd = amber_open_regular(path, O_RDONLY);
  if (fd < 0) {
    int err = fd == -ENOENT && n == 0 ? 0 : fd;
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
