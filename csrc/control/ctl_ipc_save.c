/* Saving an application's SysV IPC objects into <image>/ipc.bin (format: ctl_ipc.h), while
 * every process of the application is frozen. */
#include "ctl_ipc.h"

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
  if (!err) err = ipc_write_all(fd, &rec, sizeof rec);
  if (!err) err = ipc_write_all(fd, values, rec.bytes);
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
  err = ipc_write_all(fd, &rec, sizeof rec);
  if (!err) err = ipc_write_all(fd, p, ds.shm_segsz);
  shmdt(p);
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
      if ((err = ipc_list_append(l, type, buf + sizeof(long), (size_t)n))) break;
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
  int put = ipc_send_all(sid, l);
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
  if (!err) err = ipc_write_all(fd, &rec, sizeof rec);
  if (!err) err = ipc_write_all(fd, list.data, list.len);
  free(list.data);
  return err;
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
  if (snprintf(tmp, sizeof tmp, "%s/ipc.bin.tmp", image_dir) >= (int)sizeof tmp)
    return -ENAMETOOLONG;
  snprintf(path, sizeof path, "%s/ipc.bin", image_dir);
  struct ipc_row *rows;
  int n = ipc_rows(t, &rows);
  if (n < 0) return n;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    free(rows);
    return -errno;
  }
  struct ipc_header h = {.magic = IPC_FILE_MAGIC, .version = IPC_FILE_VERSION};
  int err = ipc_write_all(fd, &h, sizeof h);
  for (int i = 0; i < n && !err; i++) err = save_row(fd, &rows[i]);
  struct ipc_record end = {.kind = IPC_RECORD_END, .vid = n};
  if (!err) err = ipc_write_all(fd, &end, sizeof end);
  /* Written frozen: made durable with the image's other files once the application runs. */
  if (close(fd) && !err) err = -errno;
  if (!err && rename(tmp, path)) err = -errno;
  if (err) unlink(tmp);
  free(rows);
  return err;
}
