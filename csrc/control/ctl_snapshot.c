/* The coordinator's half of the snapshot protocol (docs/snapshot-protocol.md). TypeScript
 * drives the phases; these functions move the shared control block and wait on it. */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/sys.h"
#include "../common/proc.h"
#include "../common/table.h"
#include "control.h"

#define API __attribute__((visibility("default")))
#define CKPT_SIGNAL 62 /* AMBER_CKPT_SIGNAL of the interposition library */

static void futex_wake_all(uint32_t *word) {
  amber_sys6(SYS_futex, (long)word, FUTEX_WAKE, 0x7fffffff, 0, 0, 0);
}

static void futex_wait_ms(uint32_t *word, uint32_t seen, int ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  amber_sys6(SYS_futex, (long)word, FUTEX_WAIT, seen, (long)&ts, 0, 0);
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int alive(int32_t sid) { return amber_pid_alive(sid); }

static int32_t slot_sid(struct amber_table *t, struct amber_agent_slot *s) {
  return amber_v2s(t, AMBER_KIND_PID, s->vpid);
}

API int32_t amber_ctl_set_phase(void *table, int32_t phase) {
  struct amber_ctl *c = &((struct amber_table *)table)->ctl;
  if (phase != AMBER_PHASE_FREEZE && phase != AMBER_PHASE_WRITE) amber_handover_stop(table);
  __atomic_store_n(&c->phase, (uint32_t)phase, __ATOMIC_RELEASE);
  __atomic_add_fetch(&c->generation, 1, __ATOMIC_ACQ_REL);
  futex_wake_all(&c->generation);
  return 0;
}

static unsigned long long status_field(const char *status, const char *name, int base);

/* A process with no handler for the checkpoint signal, and not holding it off until its library
 * is ready, runs without Amber's library: the signal would end it. */
static int would_die(int32_t sid) {
  char path[64], status[4096];
  snprintf(path, sizeof path, "/proc/%d/status", sid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t got = read(fd, status, sizeof status - 1);
  close(fd);
  status[got > 0 ? got : 0] = 0;
  const char *state = strstr(status, "State:\t");
  if (got <= 0 || (state && (state[7] == 'Z' || state[7] == 'X'))) return 0;
  unsigned long long bit = 1ULL << (CKPT_SIGNAL - 1);
  return !((status_field(status, "SigCgt:", 16) | status_field(status, "SigBlk:", 16)) & bit);
}

API int32_t amber_ctl_snapshot_begin(void *table, const char *image_dir, const char *parent_dir,
                                     uint32_t flags) {
  struct amber_table *t = table;
  struct amber_ctl *c = &t->ctl;
  uint32_t phase = __atomic_load_n(&c->phase, __ATOMIC_ACQUIRE);
  int busy = phase == AMBER_PHASE_FREEZE || phase == AMBER_PHASE_WRITE;
  if (busy && alive(c->coordinator)) return -EBUSY; /* a dead one's snapshot was abandoned */
  if (strlen(image_dir) >= sizeof c->image_dir || strlen(parent_dir) >= sizeof c->parent_dir)
    return -ENAMETOOLONG;
  uint32_t n = 0;
  c->nzombies = 0;
  amber_table_lock(t);
  for (uint32_t i = 0; i < t->high[AMBER_KIND_PID]; i++) {
    struct amber_row *r = &t->rows[AMBER_KIND_PID][i];
    if (r->state != AMBER_ROW_LIVE || !(r->flags & AMBER_PID_PROCESS)) continue;
    int ppid, status;
    if (r->sid > 0 && amber_zombie(r->sid, &ppid, &status)) {
      int32_t parent = amber_s2v(t, AMBER_KIND_PID, ppid);
      if (parent > 0 && c->nzombies < AMBER_CTL_MAX_PROCS)
        c->zombies[c->nzombies++] = (struct amber_zombie){r->vid, parent, status, 0};
      continue;
    }
    if (!alive(r->sid)) continue;
    if (n == AMBER_CTL_MAX_PROCS) {
      amber_table_unlock(t);
      return -E2BIG;
    }
    memset(&c->slots[n], 0, sizeof c->slots[n]);
    c->slots[n++].vpid = r->vid;
  }
  amber_table_unlock(t);
  if (n == 0) return -ESRCH;
  for (uint32_t i = 0; i < n; i++) { /* src/virtualized.ts names it; this is the last guard */
    if (!amber_app_member(t, slot_sid(t, &c->slots[i]))) return -EPERM; /* a forged row */
    if (would_die(slot_sid(t, &c->slots[i]))) return -ENOEXEC;
  }
  c->nslots = n;
  t->share.ready = 0; /* listed again once every process is frozen (ctl_share.c) */
  c->coordinator = getpid();
  c->flags = flags;
  strcpy(c->image_dir, image_dir);
  strcpy(c->parent_dir, parent_dir);
  amber_handover_stop(t); /* one left by an earlier snapshot that failed */
  amber_handover_start(t, image_dir); /* without it, every process must reach the directory */
  amber_ctl_set_phase(t, AMBER_PHASE_FREEZE);
  for (uint32_t i = 0; i < n; i++) kill(slot_sid(t, &c->slots[i]), CKPT_SIGNAL);
  return (int32_t)n;
}

/* 0 when every slot reached `state`; -EIO when an agent failed; -ESRCH when a process is gone;
 * otherwise 1 (keep waiting). */
static int slots_status(struct amber_table *t, int32_t state) {
  struct amber_ctl *c = &t->ctl;
  int done = 1;
  for (uint32_t i = 0; i < c->nslots; i++) {
    int32_t s = __atomic_load_n(&c->slots[i].state, __ATOMIC_ACQUIRE);
    if (s == AMBER_AGENT_FAILED) return -EIO;
    if (s == state) continue;
    done = 0;
    int32_t sid = slot_sid(t, &c->slots[i]);
    if (sid < 0 && state == AMBER_AGENT_RESUMED) continue; /* not started yet */
    if (!alive(sid)) return -ESRCH;
  }
  return done ? 0 : 1;
}

static int32_t wait_for(struct amber_table *t, int32_t state, int32_t timeout_ms) {
  int64_t deadline = now_ms() + timeout_ms;
  for (;;) {
    uint32_t seen = __atomic_load_n(&t->ctl.reports, __ATOMIC_ACQUIRE);
    if (state == AMBER_AGENT_FROZEN) amber_ctl_serve_unblock(t); /* ctl_unblock.c */
    int st = slots_status(t, state);
    if (st <= 0) return st;
    if (state == AMBER_AGENT_RESUMED &&
        __atomic_load_n(&t->state, __ATOMIC_ACQUIRE) == AMBER_APP_FAILED)
      return -EIO;
    int64_t left = deadline - now_ms();
    if (left <= 0) return -ETIMEDOUT;
    futex_wait_ms(&t->ctl.reports, seen, left < 50 ? (int)left : 50);
  }
}

/* A process created after the slots were listed was not frozen: the snapshot would miss it. */
static int32_t all_processes_frozen(struct amber_table *t) {
  for (uint32_t i = 0; i < t->high[AMBER_KIND_PID]; i++) {
    struct amber_row *r = &t->rows[AMBER_KIND_PID][i];
    if (r->state != AMBER_ROW_LIVE || !(r->flags & AMBER_PID_PROCESS) || !alive(r->sid)) continue;
    int listed = 0;
    for (uint32_t s = 0; s < t->ctl.nslots; s++) listed |= t->ctl.slots[s].vpid == r->vid;
    if (!listed) return -EAGAIN;
  }
  return 0;
}

API int32_t amber_ctl_wait_agents(void *table, int32_t state, int32_t timeout_ms) {
  int32_t r = wait_for(table, state, timeout_ms);
  if (r == 0 && state == AMBER_AGENT_FROZEN) r = all_processes_frozen(table);
  if (state == AMBER_AGENT_WRITTEN && r <= 0) amber_handover_stop(table);
  return r;
}

API int32_t amber_ctl_wait_restored(void *table, int32_t count, int32_t timeout_ms) {
  struct amber_table *t = table;
  if ((uint32_t)count != t->ctl.nslots) return -EINVAL;
  return wait_for(t, AMBER_AGENT_RESUMED, timeout_ms);
}

API int32_t amber_ctl_agent_error(void *table, char *buf, int32_t cap) {
  struct amber_table *t = table;
  const char *msg = t->error[0] ? t->error : "";
  for (uint32_t i = 0; i < t->ctl.nslots; i++)
    if (t->ctl.slots[i].state == AMBER_AGENT_FAILED) msg = t->ctl.slots[i].error;
  int n = snprintf(buf, cap, "%s", msg);
  return n >= cap ? -ENOSPC : n;
}

static int write_all(int fd, const void *data, size_t len) {
  const char *p = data;
  while (len) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    p += n;
    len -= n;
  }
  return 0;
}

API int32_t amber_ctl_save_tables(void *table, const char *path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return -errno;
  int err = write_all(fd, table, sizeof(struct amber_table));
  if (!err && fsync(fd)) err = -errno;
  close(fd);
  return err;
}

/* A new application's tables from an image's copy: the same virtual IDs, no system IDs yet. */
API int32_t amber_ctl_table_from_image(const char *image_tables, const char *path,
                                       const char *app_id, const char *name) {
  int src = open(image_tables, O_RDONLY | O_CLOEXEC);
  if (src < 0) return -errno;
  static struct amber_table copy;
  ssize_t n = read(src, &copy, sizeof copy);
  close(src);
  if (n != (ssize_t)sizeof copy || copy.magic != AMBER_TABLE_MAGIC ||
      copy.version != AMBER_TABLE_VERSION || copy.size != sizeof copy)
    return -EPROTO;
  struct amber_table *t;
  int err = amber_table_create(path, app_id, name, copy.hostname, &t);
  if (err) return err;
  memcpy(t->rows, copy.rows, sizeof t->rows);
  memcpy(t->next_slot, copy.next_slot, sizeof t->next_slot);
  memcpy(t->high, copy.high, sizeof t->high);
  t->root_vpid = copy.root_vpid;
  /* The processes are the ones the snapshot froze, and the zombies it found; rows of any
   * others were stale. */
  t->ctl.nslots = copy.ctl.nslots;
  for (uint32_t i = 0; i < copy.ctl.nslots; i++) t->ctl.slots[i].vpid = copy.ctl.slots[i].vpid;
  t->ctl.nzombies = copy.ctl.nzombies;
  memcpy(t->ctl.zombies, copy.ctl.zombies, sizeof t->ctl.zombies);
  for (int k = 0; k < AMBER_KIND_COUNT; k++)
    for (uint32_t i = 0; i < t->high[k]; i++) t->rows[k][i].sid = -1;
  for (uint32_t i = 0; i < t->high[AMBER_KIND_PID]; i++) {
    struct amber_row *r = &t->rows[AMBER_KIND_PID][i];
    if (r->state != AMBER_ROW_LIVE || !(r->flags & AMBER_PID_PROCESS)) continue;
    int kept = 0;
    for (uint32_t s = 0; s < copy.ctl.nslots; s++) kept |= copy.ctl.slots[s].vpid == r->vid;
    for (uint32_t z = 0; z < copy.ctl.nzombies; z++) kept |= copy.ctl.zombies[z].vpid == r->vid;
    if (!kept) amber_pid_row_release(t, r);
  }
  amber_table_close(t);
  return 0;
}

/* One line of /proc/<pid>/status, e.g. "SigBlk:\t0000000020000000" -> its value. */
static unsigned long long status_field(const char *status, const char *name, int base) {
  const char *p = strstr(status, name);
  return p ? strtoull(p + strlen(name), NULL, base) : 0;
}

API int32_t amber_ctl_lagging(void *table, int32_t state, char *buf, int32_t cap) {
  struct amber_table *t = table;
  int n = 0;
  buf[0] = 0;
  for (uint32_t i = 0; i < t->ctl.nslots && n < cap; i++) {
    struct amber_agent_slot *slot = &t->ctl.slots[i];
    if (__atomic_load_n(&slot->state, __ATOMIC_ACQUIRE) == state) continue;
    int32_t sid = slot_sid(t, slot);
    char path[64], status[4096] = "";
    snprintf(path, sizeof path, "/proc/%d/status", sid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      ssize_t got = read(fd, status, sizeof status - 1);
      status[got > 0 ? got : 0] = 0;
      close(fd);
    }
    const char *st = strstr(status, "State:");
    char state_name[32] = "gone";
    if (st) sscanf(st, "State:\t%*c (%31[^)])", state_name);
    unsigned long long bit = 1ULL << (CKPT_SIGNAL - 1);
    int blocked = (status_field(status, "SigBlk:", 16) & bit) != 0;
    int pending = ((status_field(status, "SigPnd:", 16) | status_field(status, "ShdPnd:", 16)) & bit) != 0;
    n += snprintf(buf + n, cap - n, "%sprocess %d (%s%s%s)", n ? ", " : "", slot->vpid, state_name,
                  pending ? ", the checkpoint signal pending" : "",
                  blocked ? ", the checkpoint signal blocked" : "");
  }
  return n >= cap ? -ENOSPC : n;
}
