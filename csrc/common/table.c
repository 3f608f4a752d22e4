/* The translation tables: creation, locking and the two lookup directions. */
#include "table.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>

#include "robust.h"
#include "sys.h"

int32_t amber_kind_base(const struct amber_table *t, int kind) {
  return kind == AMBER_KIND_PID ? t->vpid_base : AMBER_VIPC_BASE;
}

int amber_vpid_base_valid(int64_t base) {
  int64_t k = (base - AMBER_VPID_MIN) / AMBER_TABLE_ROWS;
  return base >= AMBER_VPID_MIN && (base - AMBER_VPID_MIN) % AMBER_TABLE_ROWS == 0 &&
         k < AMBER_VPID_RANGES;
}

static int map_file(int fd, struct amber_table **out) {
  long addr = amber_sys6(SYS_mmap, 0, sizeof(struct amber_table), PROT_READ | PROT_WRITE,
                         MAP_SHARED, fd, 0);
  amber_sys1(SYS_close, fd);
  if (addr < 0 && addr > -4096) return (int)addr;
  *out = (struct amber_table *)addr;
  return 0;
}

static void copy_str(char *dst, const char *src, size_t cap) {
  size_t n = src ? strnlen(src, cap - 1) : 0;
  memcpy(dst, src ? src : "", n);
  dst[n] = 0;
}

int amber_table_create(const char *path, const char *app_id, const char *name,
                       const char *hostname, int32_t vpid_base, struct amber_table **out) {
  if (!amber_vpid_base_valid(vpid_base)) return -EINVAL;
  int fd = (int)amber_sys4(SYS_openat, AT_FDCWD, path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                           0600);
  if (fd < 0) return fd;
  long r = amber_sys2(SYS_ftruncate, fd, sizeof(struct amber_table));
  if (r < 0) {
    amber_sys1(SYS_close, fd);
    return (int)r;
  }
  struct amber_table *t;
  int err = map_file(fd, &t);
  if (err) return err;
  t->version = AMBER_TABLE_VERSION;
  t->size = sizeof(struct amber_table);
  t->vpid_base = vpid_base;
  copy_str(t->app_id, app_id, sizeof t->app_id);
  copy_str(t->name, name, sizeof t->name);
  copy_str(t->hostname, hostname, sizeof t->hostname);
  for (int i = 0; i < 3; i++) t->std_dev[i] = -1;

  amber_robust_init(&t->lock);

  for (int k = 0; k < AMBER_KIND_COUNT; k++)
    for (int i = 0; i < AMBER_TABLE_ROWS; i++) t->rows[k][i].sid = -1;
  __atomic_store_n(&t->magic, AMBER_TABLE_MAGIC, __ATOMIC_RELEASE);
  *out = t;
  return 0;
}

/* A mapped table is used only if it is one of this build's layout (another Amber's: -EPROTO). */
static int accept_mapped(struct amber_table *t, struct amber_table **out) {
  if (__atomic_load_n(&t->magic, __ATOMIC_ACQUIRE) != AMBER_TABLE_MAGIC ||
      t->version != AMBER_TABLE_VERSION || t->size != sizeof(struct amber_table)) {
    amber_table_close(t);
    return -EPROTO;
  }
  *out = t;
  return 0;
}

int amber_table_open(const char *path, struct amber_table **out) {
  int fd = (int)amber_sys3(SYS_openat, AT_FDCWD, path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return fd;
  struct amber_table *t;
  int err = map_file(fd, &t);
  return err ? err : accept_mapped(t, out);
}

int amber_table_map_fd(int fd, struct amber_table **out) {
  int copy = (int)amber_sys3(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 0); /* map_file closes its fd */
  if (copy < 0) return copy;
  struct amber_table *t;
  int err = map_file(copy, &t);
  return err ? err : accept_mapped(t, out);
}

void amber_table_close(struct amber_table *t) {
  if (t) amber_sys2(SYS_munmap, t, sizeof(struct amber_table));
}

void amber_table_lock(struct amber_table *t) { amber_robust_lock(&t->lock); }

void amber_table_unlock(struct amber_table *t) { pthread_mutex_unlock(&t->lock); }

struct amber_row *amber_row_by_vid(struct amber_table *t, int kind, int32_t vid) {
  int64_t slot = (int64_t)vid - amber_kind_base(t, kind);
  if (slot < 0 || slot >= AMBER_TABLE_ROWS) return NULL;
  struct amber_row *row = &t->rows[kind][slot];
  return __atomic_load_n(&row->state, __ATOMIC_ACQUIRE) == AMBER_ROW_LIVE ? row : NULL;
}

static struct amber_row *find_sid(struct amber_table *t, int kind, int32_t sid, int gone) {
  if (sid < 0) return NULL;
  uint32_t high = __atomic_load_n(&t->high[kind], __ATOMIC_ACQUIRE);
  for (uint32_t i = 0; i < high && i < AMBER_TABLE_ROWS; i++) {
    struct amber_row *row = &t->rows[kind][i];
    if (__atomic_load_n(&row->state, __ATOMIC_ACQUIRE) == AMBER_ROW_LIVE &&
        __atomic_load_n(&row->sid, __ATOMIC_RELAXED) == sid &&
        !(__atomic_load_n(&row->flags, __ATOMIC_RELAXED) & AMBER_PID_GONE) == !gone)
      return row;
  }
  return NULL;
}

struct amber_row *amber_row_by_sid(struct amber_table *t, int kind, int32_t sid) {
  return find_sid(t, kind, sid, 0);
}

struct amber_row *amber_row_alloc(struct amber_table *t, int kind) {
  /* Like the kernel, hand out IDs in a rising sequence so a freed ID is not reused at once. */
  for (int n = 0; n < AMBER_TABLE_ROWS; n++) {
    uint32_t slot = (t->next_slot[kind] + n) % AMBER_TABLE_ROWS;
    struct amber_row *row = &t->rows[kind][slot];
    if (row->state != AMBER_ROW_FREE) continue;
    t->next_slot[kind] = (slot + 1) % AMBER_TABLE_ROWS;
    memset(row, 0, sizeof *row);
    if (kind == AMBER_KIND_PID) /* beside the row */
      memset(t->cpu_times_shift[slot], 0, sizeof t->cpu_times_shift[slot]),
          t->dirty_epoch[slot] = 0;
    row->vid = (int32_t)((uint32_t)amber_kind_base(t, kind) + slot);
    row->sid = -1;
    __atomic_store_n(&row->state, AMBER_ROW_LIVE, __ATOMIC_RELEASE);
    if (slot + 1 > t->high[kind]) __atomic_store_n(&t->high[kind], slot + 1, __ATOMIC_RELEASE);
    return row;
  }
  return NULL;
}

void amber_row_free(struct amber_row *row) {
  __atomic_store_n(&row->state, AMBER_ROW_FREE, __ATOMIC_RELEASE);
}

int32_t amber_v2s(struct amber_table *t, int kind, int32_t vid) {
  struct amber_row *row = amber_row_by_vid(t, kind, vid);
  return row ? __atomic_load_n(&row->sid, __ATOMIC_RELAXED) : -1;
}

int32_t amber_s2v(struct amber_table *t, int kind, int32_t sid) {
  struct amber_row *row = find_sid(t, kind, sid, 0);
  if (!row && kind == AMBER_KIND_PID) row = find_sid(t, kind, sid, 1); /* a departed leader */
  return row ? row->vid : -1;
}

struct amber_row *amber_pid_row_adopt(struct amber_table *t, int32_t sys_pid, int32_t sys_parent,
                                      int flags) {
  amber_table_lock(t);
  struct amber_row *row = amber_row_by_sid(t, AMBER_KIND_PID, sys_pid);
  if (!row) {
    row = amber_row_alloc(t, AMBER_KIND_PID);
    if (row) {
      row->flags = flags;
      row->owner = row->vid;
      row->parent = amber_s2v(t, AMBER_KIND_PID, sys_parent);
      __atomic_store_n(&row->sid, sys_pid, __ATOMIC_RELEASE);
    }
  }
  amber_table_unlock(t);
  return row;
}

void amber_pid_row_release(struct amber_table *t, struct amber_row *row) {
  int32_t vid = row->vid;
  /* A leader's ID may still name its session or group, whose members must not see it turn
   * into a system ID: its row stays, as gone, and is no process any more. */
  if (row->flags & AMBER_PID_LEADER)
    __atomic_store_n(&row->flags, AMBER_PID_LEADER | AMBER_PID_GONE, __ATOMIC_RELEASE);
  else
    amber_row_free(row);
  for (uint32_t i = 0; i < t->high[AMBER_KIND_PID]; i++) {
    struct amber_row *r = &t->rows[AMBER_KIND_PID][i];
    if (r->state == AMBER_ROW_LIVE && (r->flags & AMBER_PID_THREAD) && r->owner == vid)
      amber_row_free(r);
  }
}
