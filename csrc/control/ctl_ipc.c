/* What saving and restoring SysV IPC objects share: whole reads and writes, a queue's list of
 * messages, and the live IPC rows of the tables. See ctl_ipc.h for the file format. */
#include "ctl_ipc.h"

int ipc_write_all(int fd, const void *buf, size_t n) {
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

int ipc_read_all(int fd, void *buf, size_t n) {
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

int ipc_is_ipc_kind(int kind) {
  return kind == AMBER_KIND_SEM || kind == AMBER_KIND_SHM || kind == AMBER_KIND_MSG;
}

/* The messages of one queue, in order, each as struct msg_head then its text. */

int ipc_list_append(struct msg_list *l, long type, const void *text, size_t n) {
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
int ipc_send_all(int sid, const struct msg_list *l) {
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

/* A copy of the live IPC rows, taken under the lock. */

/* Returns how many rows, or -errno. */
int ipc_rows(struct amber_table *t, struct ipc_row **out) {
  struct ipc_row *rows = malloc(sizeof *rows * AMBER_TABLE_ROWS * 3);
  if (!rows) return -ENOMEM;
  int n = 0;
  amber_table_lock(t);
  for (int kind = 0; kind < AMBER_KIND_COUNT; kind++) {
    if (!ipc_is_ipc_kind(kind)) continue;
    for (uint32_t i = 0; i < t->high[kind] && i < AMBER_TABLE_ROWS; i++)
      if (t->rows[kind][i].state == AMBER_ROW_LIVE)
        rows[n++] = (struct ipc_row){.kind = kind, .row = t->rows[kind][i]};
  }
  amber_table_unlock(t);
  *out = rows;
  return n;
}
