/* The VNE table (vne.h): creation, locking and lookups. Raw system calls only, so that the
 * interposition library can use it inside its wrappers. */
#include "vne.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>

#include "robust.h"
#include "sys.h"
#include "table.h"

static int map_fd(int fd, struct amber_vne_table **out) {
  long addr = amber_sys6(SYS_mmap, 0, sizeof(struct amber_vne_table), PROT_READ | PROT_WRITE,
                         MAP_SHARED, fd, 0);
  if (addr < 0 && addr > -4096) return (int)addr;
  *out = (struct amber_vne_table *)addr;
  return 0;
}

static int init_new(int fd, struct amber_vne_table **out) {
  long r = amber_sys2(SYS_ftruncate, fd, sizeof(struct amber_vne_table));
  if (r < 0) return (int)r;
  struct amber_vne_table *t = NULL;
  int err = map_fd(fd, &t);
  if (err) return err;
  t->version = AMBER_VNE_VERSION;
  t->size = sizeof *t;
  amber_robust_init(&t->lock);
  __atomic_store_n(&t->magic, AMBER_VNE_MAGIC, __ATOMIC_RELEASE);
  *out = t;
  return 0;
}

int amber_vne_open(const char *path, int create, struct amber_vne_table **out) {
  int fd = (int)amber_sys3(SYS_openat, AT_FDCWD, path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
  if (fd == -ENOENT && create) {
    /* Made under a temporary name and renamed, so no reader ever sees a half-made table. */
    char tmp[600];
    size_t n = strlen(path);
    if (n + 5 > sizeof tmp) return -ENAMETOOLONG; /* never a shorter, other name */
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".new", 5);
    fd = (int)amber_sys4(SYS_openat, AT_FDCWD, tmp,
                             O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return fd;
    struct amber_vne_table *t = NULL;
    int err = init_new(fd, &t);
    amber_sys1(SYS_close, fd);
    if (err) return err;
    long r = amber_sys5(SYS_renameat2, AT_FDCWD, tmp, AT_FDCWD, path, 1 /* RENAME_NOREPLACE */);
    if (r == 0) {
      *out = t;
      return 0;
    }
    amber_vne_close(t);
    amber_sys3(SYS_unlinkat, AT_FDCWD, tmp, 0);
    if (r != -EEXIST) return (int)r;
    fd = (int)amber_sys3(SYS_openat, AT_FDCWD, path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
  }
  if (fd < 0) return fd;
  struct amber_vne_table *t = NULL;
  int err = map_fd(fd, &t);
  amber_sys1(SYS_close, fd);
  if (err) return err;
  if (__atomic_load_n(&t->magic, __ATOMIC_ACQUIRE) != AMBER_VNE_MAGIC ||
      t->version != AMBER_VNE_VERSION || t->size != sizeof *t) {
    amber_vne_close(t);
    return -EPROTO;
  }
  *out = t;
  return 0;
}

void amber_vne_close(struct amber_vne_table *t) {
  if (t) amber_sys2(SYS_munmap, t, sizeof(struct amber_vne_table));
}

void amber_vne_lock(struct amber_vne_table *t) {
  amber_robust_lock(&t->lock);
}

void amber_vne_unlock(struct amber_vne_table *t) {
  __atomic_add_fetch(&t->generation, 1, __ATOMIC_RELEASE);
  pthread_mutex_unlock(&t->lock);
}

static int live(const int32_t *state) {
  return __atomic_load_n(state, __ATOMIC_ACQUIRE) == AMBER_ROW_LIVE;
}

int amber_vne_find(const struct amber_vne_table *t, const char *name) {
  for (int i = 0; i < AMBER_VNE_MAX; i++)
    if (live(&t->defs[i].state) && !strncmp(t->defs[i].name, name, sizeof t->defs[i].name))
      return i;
  return -1;
}

int amber_vne_of_ip(const struct amber_vne_table *t, uint32_t ip) {
  for (int i = 0; i < AMBER_VNE_MAX; i++)
    if (live(&t->defs[i].state) && amber_vne_in(&t->defs[i], ip)) return i;
  return -1;
}

struct amber_vne_claim *amber_vne_claim_of_ip(struct amber_vne_table *t, int vne, uint32_t vip) {
  for (int i = 0; i < AMBER_VNE_CLAIMS; i++) {
    struct amber_vne_claim *c = &t->claims[i];
    if (live(&c->state) && c->vne == vne && c->vip == vip) return c;
  }
  return NULL;
}

static int same_host(const char *a, const char *b) {
  for (;; a++, b++) {
    char x = *a >= 'A' && *a <= 'Z' ? *a + 32 : *a;
    char y = *b >= 'A' && *b <= 'Z' ? *b + 32 : *b;
    if (x != y) return 0;
    if (!x) return 1;
  }
}

struct amber_vne_claim *amber_vne_claim_of_host(struct amber_vne_table *t, int vne,
                                                const char *hostname) {
  for (int i = 0; i < AMBER_VNE_CLAIMS; i++) {
    struct amber_vne_claim *c = &t->claims[i];
    if (live(&c->state) && c->vne == vne && c->hostname[0] && same_host(c->hostname, hostname))
      return c;
  }
  return NULL;
}

struct amber_vne_row *amber_vne_row_of(struct amber_vne_table *t, int vne, int proto,
                                       uint32_t vip, uint16_t vport) {
  uint32_t high = __atomic_load_n(&t->high, __ATOMIC_ACQUIRE);
  for (uint32_t i = 0; i < high && i < AMBER_VNE_ROWS; i++) {
    struct amber_vne_row *r = &t->rows[i];
    if (live(&r->state) && r->vne == vne && r->proto == proto && r->vip == vip &&
        r->vport == vport)
      return r;
  }
  return NULL;
}

struct amber_vne_row *amber_vne_row_of_real(struct amber_vne_table *t, int vne, int proto,
                                            uint32_t rip, uint16_t rport) {
  uint32_t high = __atomic_load_n(&t->high, __ATOMIC_ACQUIRE);
  for (uint32_t i = 0; i < high && i < AMBER_VNE_ROWS; i++) {
    struct amber_vne_row *r = &t->rows[i];
    if (live(&r->state) && r->vne == vne && r->proto == proto && r->rip == rip &&
        r->rport == rport)
      return r;
  }
  return NULL;
}

struct amber_vne_row *amber_vne_row_put(struct amber_vne_table *t, int vne, int proto,
                                        uint32_t vip, uint16_t vport) {
  struct amber_vne_row *row = amber_vne_row_of(t, vne, proto, vip, vport);
  if (row) {
    /* Replaced in place: readers see either the old or the new real address. */
    __atomic_store_n(&row->state, AMBER_ROW_FREE, __ATOMIC_RELEASE);
  } else {
    for (uint32_t i = 0; i < AMBER_VNE_ROWS && !row; i++)
      if (t->rows[i].state != AMBER_ROW_LIVE) row = &t->rows[i];
    if (!row) return NULL;
  }
  memset(row, 0, sizeof *row);
  row->vne = vne;
  row->proto = (uint8_t)proto;
  row->vip = vip;
  row->vport = vport;
  uint32_t slot = (uint32_t)(row - t->rows);
  if (slot + 1 > t->high) __atomic_store_n(&t->high, slot + 1, __ATOMIC_RELEASE);
  return row; /* the caller fills it and publishes it with amber_vne_row_live */
}

void amber_vne_row_free(struct amber_vne_row *row) {
  __atomic_store_n(&row->state, AMBER_ROW_FREE, __ATOMIC_RELEASE);
}
