/* The coordinator's half of the snapshot protocol (docs/snapshot-protocol.md). TypeScript
 * drives the phases; these functions move the shared control block and wait on it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "../common/sys.h"
#include "../common/proc.h"
#include "../common/image.h"
#include "../common/table.h"
#include "control.h"
#include "files.h"

#define API __attribute__((visibility("default")))
#include "../common/ckpt_signal.h"

static void futex_wake_all(uint32_t *word) {
  amber_sys6(SYS_futex, (long)word, FUTEX_WAKE, 0x7fffffff, 0, 0, 0);
}

static void futex_wait_ms(uint32_t *word, uint32_t seen, int ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  amber_sys6(SYS_futex, (long)word, FUTEX_WAIT, seen, (long)&ts, 0, 0);
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
  if (phase != AMBER_PHASE_FREEZE && phase != AMBER_PHASE_WRITE) amber_ctl_seize_release(table, 0);
  /* Going on: a process woken from a stop must have stopped again before the snapshot returns;
   * one that does not in 2 s (ended meanwhile, say) does not hold the snapshot up. */
  if (phase == AMBER_PHASE_RESUME || phase == AMBER_PHASE_ABORT) amber_ctl_wait_stops(table, 2000);
  return 0;
}

/* A process with no handler for the checkpoint signal, and not holding it off until its library
 * is ready, runs without Amber's library: the signal would end it. */
static int would_die(int32_t sid) {
  int blocked;
  return amber_ctl_ckpt_handler(sid, &blocked) == 0 && !blocked;
}

API int32_t amber_ctl_snapshot_begin(void *table, const char *image_dir, const char *parent_dir,
                                     uint32_t flags) {
  struct amber_table *t = table;
  struct amber_ctl *c = &t->ctl;
  uint32_t phase = __atomic_load_n(&c->phase, __ATOMIC_ACQUIRE);
  int busy = phase == AMBER_PHASE_FREEZE || phase == AMBER_PHASE_WRITE ||
             (phase == AMBER_PHASE_PRECOPY && !(flags & AMBER_SNAPSHOT_PRECOPIED));
  if (busy && alive(c->coordinator)) return -EBUSY; /* a dead one's snapshot was abandoned */
  if (amber_cow_writers_busy(t)) return -EBUSY; /* ctl_cow.c */
  if (strlen(image_dir) >= sizeof c->image_dir || strlen(parent_dir) >= sizeof c->parent_dir)
    return -ENAMETOOLONG;
  uint32_t n = 0;
  int32_t listed_sid[AMBER_CTL_MAX_PROCS]; /* the system pid each listed row named */
  c->nzombies = 0;
  amber_table_lock(t);
  for (uint32_t i = 0; i < t->high[AMBER_KIND_PID]; i++) {
    struct amber_row *r = &t->rows[AMBER_KIND_PID][i];
    if (r->state != AMBER_ROW_LIVE || !(r->flags & AMBER_PID_PROCESS) || !alive(r->sid)) continue;
    if (n == AMBER_CTL_MAX_PROCS) {
      amber_table_unlock(t);
      return -E2BIG;
    }
    memset(&c->slots[n], 0, sizeof c->slots[n]);
    listed_sid[n] = r->sid;
    c->slots[n++].vpid = r->vid;
  }
  amber_table_unlock(t);
  if (n == 0) return -ESRCH;
  for (uint32_t i = 0; i < n; i++) { /* src/virtualized.ts names it; this is the last guard */
    int32_t sid = listed_sid[i]; /* the pid its row named: a forged row is judged by it */
    /* Not one of its processes: a forged row, unless it exited since it was listed (its
     * slot then says so, as for one that exits before it freezes). */
    if (!amber_app_member(t, sid)) {
      if (!amber_pid_gone(sid)) return -EPERM;
      c->slots[i].state = AMBER_AGENT_EXITED;
      continue;
    }
    if (would_die(sid)) return -ENOEXEC;
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
  for (uint32_t i = 0; i < n; i++) {
    /* The pid is looked up again: its row may be gone by now (the process was reaped), and
     * kill(-1) would signal every process this user may signal. */
    int32_t sid = slot_sid(t, &c->slots[i]);
    if (c->slots[i].state != AMBER_AGENT_EXITED && sid > 1 &&
        (sid == listed_sid[i] || amber_app_member(t, sid)))
      kill(sid, AMBER_CKPT_SIGNAL);
  }
  return (int32_t)n;
}

/* 0 when every slot reached `state`; -EIO when an agent failed; -ESRCH when a process is gone;
 * otherwise 1 (keep waiting). A process that exits before it froze is no failure: it exited
 * before the snapshot, as far as the image goes (its slot says EXITED). */
static int slots_status(struct amber_table *t, int32_t state) {
  struct amber_ctl *c = &t->ctl;
  int done = 1;
  for (uint32_t i = 0; i < c->nslots; i++) {
    int32_t s = __atomic_load_n(&c->slots[i].state, __ATOMIC_ACQUIRE);
    if (s == AMBER_AGENT_FAILED) return -EIO;
    if (s == state || s == AMBER_AGENT_EXITED) continue;
    if (state == AMBER_AGENT_CAPTURED && s == AMBER_AGENT_WRITTEN) continue; /* not a copy */
    if (state == AMBER_AGENT_WRITTEN && s == AMBER_AGENT_CAPTURED) { /* its copy writes */
      int st = amber_cow_writer_status(t, i); /* ctl_cow.c */
      if (st <= 0) return st;
      done = 0;
      continue;
    }
    int32_t sid = slot_sid(t, &c->slots[i]);
    if (sid < 0 && state == AMBER_AGENT_RESUMED) {
      done = 0; /* not started yet */
      continue;
    }
    if (state != AMBER_AGENT_FROZEN ? alive(sid) : !amber_pid_gone(sid)) {
      done = 0;
      continue;
    }
    if (state == AMBER_AGENT_RESUMED) amber_ctl_restore_gone(t, c->slots[i].vpid, sid);
    if (state != AMBER_AGENT_FROZEN) return -ESRCH;
    int32_t expected = s; /* unless its agent reported meanwhile */
    __atomic_compare_exchange_n(&c->slots[i].state, &expected, AMBER_AGENT_EXITED, 0,
                                __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
  }
  return done ? 0 : 1;
}

/* A stopped process's parent in the application must first look at what it has not collected
 * of its children's wait reports (agent_reports.c), which waking the child changes. */
static int parent_not_frozen(struct amber_table *t, int32_t ppid) {
  int32_t vpid = amber_s2v(t, AMBER_KIND_PID, ppid);
  for (uint32_t i = 0; vpid > 0 && i < t->ctl.nslots; i++)
    if (t->ctl.slots[i].vpid == vpid)
      return __atomic_load_n(&t->ctl.slots[i].state, __ATOMIC_ACQUIRE) == AMBER_AGENT_NONE;
  return 0;
}

/* A stopped process (SIGSTOP, SIGTSTP...) cannot run its agent: it is woken with SIGCONT, its
 * slot saying so, and its agent stops it again once the snapshot is over (or restored). Each
 * of its threads gets the checkpoint signal first, so none runs the program meanwhile. */
static void wake_stopped(struct amber_table *t, int32_t state) {
  struct amber_ctl *c = &t->ctl;
  for (uint32_t i = 0; i < c->nslots; i++) {
    struct amber_agent_slot *slot = &c->slots[i];
    int32_t now = __atomic_load_n(&slot->state, __ATOMIC_ACQUIRE);
    if (now == state || now == AMBER_AGENT_EXITED || now == AMBER_AGENT_FAILED) continue;
    if (now == AMBER_AGENT_CAPTURED) continue; /* resumed, maybe stopped again: its copy writes */
    int32_t sid = slot_sid(t, slot);
    char buf[1024];
    const char *fields = sid > 0 ? amber_proc_stat(sid, buf, sizeof buf) : NULL;
    if (!fields || *fields != 'T' || parent_not_frozen(t, atoi(fields + 2))) continue;
    __atomic_store_n(&slot->stopped, 1, __ATOMIC_RELEASE);
    if (now == AMBER_AGENT_NONE) {
      char dir[64];
      snprintf(dir, sizeof dir, "/proc/%d/task", sid);
      DIR *d = opendir(dir);
      for (struct dirent *e; d && (e = readdir(d));)
        if (e->d_name[0] != '.') amber_sys3(SYS_tgkill, sid, atoi(e->d_name), AMBER_CKPT_SIGNAL);
      if (d) closedir(d);
    }
    kill(sid, SIGCONT);
  }
}

static int32_t wait_for(struct amber_table *t, int32_t state, int32_t timeout_ms) {
  int64_t deadline = amber_ctl_now_ms() + timeout_ms, next_wake = 0, unmanaged_since = 0;
  int spin = state == AMBER_AGENT_FROZEN; /* the freeze's first hand-off (ctl_spin.c) */
  for (;;) {
    uint32_t seen = __atomic_load_n(&t->ctl.reports, __ATOMIC_ACQUIRE);
    if (state != AMBER_AGENT_RESUMED && amber_ctl_now_ms() >= next_wake) {
      wake_stopped(t, state);
      next_wake = amber_ctl_now_ms() + 20;
    }
    if (state == AMBER_AGENT_FROZEN) {
      amber_ctl_serve_unblock(t); /* ctl_unblock.c */
      if (!spin && amber_ctl_find_unmanaged(t, amber_ctl_now_ms(), &unmanaged_since)) return -EIO;
    }
    int st = slots_status(t, state);
    if (st <= 0) return st;
    if (state == AMBER_AGENT_RESUMED &&
        __atomic_load_n(&t->state, __ATOMIC_ACQUIRE) == AMBER_APP_FAILED)
      return -EIO;
    int64_t left = deadline - amber_ctl_now_ms();
    if (left <= 0) return -ETIMEDOUT;
    if (spin && (spin = 0, amber_ctl_spin_report(t, seen))) continue;
    futex_wait_ms(&t->ctl.reports, seen, left < 50 ? (int)left : 50);
  }
}

/* Processes created after the slots were listed (forked before their parent froze) get slots
 * of their own and the signal; returns how many, or -E2BIG. */
static int32_t list_late_processes(struct amber_table *t) {
  struct amber_ctl *c = &t->ctl;
  int32_t late[AMBER_CTL_MAX_PROCS], n = 0;
  amber_table_lock(t);
  for (uint32_t i = 0; i < t->high[AMBER_KIND_PID]; i++) {
    struct amber_row *r = &t->rows[AMBER_KIND_PID][i];
    if (r->state != AMBER_ROW_LIVE || !(r->flags & AMBER_PID_PROCESS) || !alive(r->sid)) continue;
    int listed = 0;
    for (uint32_t s = 0; s < c->nslots; s++) listed |= c->slots[s].vpid == r->vid;
    if (listed) continue;
    if (c->nslots == AMBER_CTL_MAX_PROCS) {
      amber_table_unlock(t);
      return -E2BIG;
    }
    memset(&c->slots[c->nslots], 0, sizeof c->slots[c->nslots]);
    c->slots[c->nslots].vpid = r->vid;
    __atomic_add_fetch(&c->nslots, 1, __ATOMIC_RELEASE); /* its agent finds its slot */
    late[n++] = r->sid;
  }
  amber_table_unlock(t);
  for (int32_t i = 0; i < n; i++) kill(late[i], AMBER_CKPT_SIGNAL);
  return n;
}

/* Every frozen process's children that had exited unreaped: a restore makes them again as
 * zombies. Listed once nothing can reap or exit any more (every process frozen). */
static void list_zombies(struct amber_table *t) {
  struct amber_ctl *c = &t->ctl;
  c->nzombies = 0;
  amber_table_lock(t);
  for (uint32_t i = 0; i < t->high[AMBER_KIND_PID]; i++) {
    struct amber_row *r = &t->rows[AMBER_KIND_PID][i];
    if (r->state != AMBER_ROW_LIVE || !(r->flags & AMBER_PID_PROCESS)) continue;
    int ppid, status;
    if (r->sid <= 0 || !amber_zombie(r->sid, &ppid, &status)) continue;
    int32_t parent = amber_s2v(t, AMBER_KIND_PID, ppid);
    if (parent > 0 && c->nzombies < AMBER_CTL_MAX_PROCS)
      c->zombies[c->nzombies++] = (struct amber_zombie){r->vid, parent, status, 0};
  }
  amber_table_unlock(t);
}

API int32_t amber_ctl_wait_agents(void *table, int32_t state, int32_t timeout_ms) {
  struct amber_table *t = table;
  if (state != AMBER_AGENT_FROZEN) {
    int32_t r = wait_for(t, state, timeout_ms);
    if (state == AMBER_AGENT_WRITTEN && r <= 0) amber_handover_stop(table);
    return r;
  }
  int64_t deadline = amber_ctl_now_ms() + timeout_ms;
  for (int round = 0;; round++) {
    int64_t left = deadline - amber_ctl_now_ms();
    int32_t r = wait_for(t, state, left > 1 ? (int32_t)left : 1);
    if (r) return r;
    r = list_late_processes(t);
    if (r < 0) return r;
    if (r == 0) break;
    if (round == 100) return -EAGAIN; /* it keeps forking faster than it freezes */
  }
  /* A process taken for gone must have stayed so (its agent never reported), or the image
   * would miss it: the snapshot is taken again. */
  for (uint32_t i = 0; i < t->ctl.nslots; i++)
    if (__atomic_load_n(&t->ctl.slots[i].state, __ATOMIC_ACQUIRE) == AMBER_AGENT_EXITED &&
        !amber_pid_gone(slot_sid(t, &t->ctl.slots[i])))
      return -EAGAIN;
  list_zombies(t);
  return 0;
}

/* Once every process has written its part: the image directory must hold exactly one process
 * file per process that wrote one. A file of any other process is an earlier attempt's, left by
 * a process that has since died (its agent may have finished writing after the attempt was
 * abandoned and the directory emptied): it is removed, or the image would name a process its
 * tables do not hold. A written process without its file fails the snapshot (-ENOENT). */
API int32_t amber_ctl_prune_image(void *table, const char *dir) {
  struct amber_table *t = table;
  DIR *d = opendir(dir);
  if (!d) return -errno;
  int err = 0;
  for (struct dirent *e; (e = readdir(d));) {
    int vpid, end = 0;
    if (sscanf(e->d_name, AMBER_PROC_FILE_PREFIX "%d" AMBER_PROC_FILE_SUFFIX "%n", &vpid, &end) != 1 || e->d_name[end]) continue;
    int written = 0;
    for (uint32_t i = 0; i < t->ctl.nslots; i++)
      written |= t->ctl.slots[i].vpid == vpid &&
                 __atomic_load_n(&t->ctl.slots[i].state, __ATOMIC_ACQUIRE) == AMBER_AGENT_WRITTEN;
    if (!written && unlinkat(dirfd(d), e->d_name, 0)) err = -errno;
  }
  closedir(d);
  for (uint32_t i = 0; i < t->ctl.nslots && !err; i++) {
    if (__atomic_load_n(&t->ctl.slots[i].state, __ATOMIC_ACQUIRE) != AMBER_AGENT_WRITTEN) continue;
    char path[AMBER_CTL_PATH + 32];
    snprintf(path, sizeof path, AMBER_PROC_FILE_FMT, dir, t->ctl.slots[i].vpid);
    if (access(path, F_OK)) err = -ENOENT;
  }
  return err;
}

API int32_t amber_ctl_wait_restored(void *table, int32_t count, int32_t timeout_ms) {
  struct amber_table *t = table;
  if ((uint32_t)count != t->ctl.nslots) {
    int n = snprintf(t->error, sizeof t->error,
                     "the image holds %d process files but its tables list %u processes:",
                     count, t->ctl.nslots);
    for (uint32_t i = 0; i < t->ctl.nslots && n > 0 && n < (int)sizeof t->error - 12; i++)
      n += snprintf(t->error + n, sizeof t->error - n, " %d", t->ctl.slots[i].vpid);
    return -EINVAL;
  }
  int32_t r = wait_for(t, AMBER_AGENT_RESUMED, timeout_ms);
  /* Held: they stop again only once let go (ctl_held.c). */
  if (r == 0 && !__atomic_load_n(&t->held, __ATOMIC_ACQUIRE)) r = amber_ctl_wait_stops(t, timeout_ms);
  return r;
}

API int32_t amber_ctl_agent_error(void *table, char *buf, int32_t cap) {
  struct amber_table *t = table;
  const char *msg = t->error[0] ? t->error : "";
  for (uint32_t i = 0; i < t->ctl.nslots; i++)
    if (t->ctl.slots[i].state == AMBER_AGENT_FAILED) msg = t->ctl.slots[i].error;
  int n = snprintf(buf, cap, "%s", msg);
  return n >= cap ? -ENOSPC : n;
}

API int32_t amber_ctl_save_tables(void *table, const char *path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return -errno;
  /* No fsync: this is written while the application is frozen, and the image's files are
   * made durable together once it runs again (src/snapshot.ts, syncFiles). */
  int err = amber_write_image_tables(fd, table);
  close(fd);
  return err;
}

/* A new application's tables from an image's copy: the same virtual IDs, no system IDs yet. */
static int32_t table_from_image_into(struct amber_table *copy, const char *image_tables, const char *path,
                                       const char *app_id, const char *name) {
  int err = amber_read_image_tables(image_tables, copy);
  if (err) return err;
  struct amber_table *t;
  err = amber_table_create(path, app_id, name, copy->hostname, copy->vpid_base, &t);
  if (err) return err;
  memcpy(t->rows, copy->rows, sizeof t->rows);
  memcpy(t->next_slot, copy->next_slot, sizeof t->next_slot);
  memcpy(t->high, copy->high, sizeof t->high);
  t->root_vpid = copy->root_vpid;
  t->nshm_names = copy->nshm_names, t->shm_names_full = copy->shm_names_full;
  memcpy(t->shm_names, copy->shm_names, sizeof t->shm_names);
  /* The processes are the ones the snapshot froze, and the zombies it found; rows of any
   * others were stale. */
  t->ctl.nslots = 0;
  for (uint32_t i = 0; i < copy->ctl.nslots; i++)
    if (copy->ctl.slots[i].state != AMBER_AGENT_EXITED)
      t->ctl.slots[t->ctl.nslots++].vpid = copy->ctl.slots[i].vpid;
  t->ctl.nzombies = copy->ctl.nzombies;
  memcpy(t->ctl.zombies, copy->ctl.zombies, sizeof t->ctl.zombies);
  for (int k = 0; k < AMBER_KIND_COUNT; k++)
    for (uint32_t i = 0; i < t->high[k]; i++) t->rows[k][i].sid = -1;
  for (uint32_t i = 0; i < t->high[AMBER_KIND_PID]; i++) {
    struct amber_row *r = &t->rows[AMBER_KIND_PID][i];
    if (r->state != AMBER_ROW_LIVE || !(r->flags & AMBER_PID_PROCESS)) continue;
    int kept = 0;
    for (uint32_t s = 0; s < t->ctl.nslots; s++) kept |= t->ctl.slots[s].vpid == r->vid;
    for (uint32_t z = 0; z < copy->ctl.nzombies; z++) kept |= copy->ctl.zombies[z].vpid == r->vid;
    if (!kept) amber_pid_row_release(t, r);
  }
  amber_table_close(t);
  return 0;
}

API int32_t amber_ctl_table_from_image(const char *image_tables, const char *path,
                                       const char *app_id, const char *name) {
  /* The image's copy on the heap, one per call: calls come from several threads at once
   * (FFI), and a shared buffer let one restore take another's tables. */
  struct amber_table *copy = malloc(sizeof *copy);
  if (!copy) return -ENOMEM;
  int32_t err = table_from_image_into(copy, image_tables, path, app_id, name);
  free(copy);
  return err;
}

API int32_t amber_ctl_lagging(void *table, int32_t state, char *buf, int32_t cap) {
  struct amber_table *t = table;
  int n = 0;
  buf[0] = 0;
  for (uint32_t i = 0; i < t->ctl.nslots && n < cap; i++) {
    struct amber_agent_slot *slot = &t->ctl.slots[i];
    int32_t now = __atomic_load_n(&slot->state, __ATOMIC_ACQUIRE);
    if (now == state || now == AMBER_AGENT_EXITED) continue;
    int32_t sid = slot_sid(t, slot);
    char status[4096];
    amber_proc_status(sid, status, sizeof status);
    const char *st = strstr(status, "State:");
    char state_name[32] = "gone";
    if (st) sscanf(st, "State:\t%*c (%31[^)])", state_name);
    if (!strcmp(state_name, "zombie") && amber_threads_run_on(sid))
      snprintf(state_name, sizeof state_name, "its main thread gone");
    unsigned long long bit = 1ULL << (AMBER_CKPT_SIGNAL - 1);
    int blocked = (amber_status_field(status, "SigBlk:", 16) & bit) != 0;
    int pending = ((amber_status_field(status, "SigPnd:", 16) | amber_status_field(status, "ShdPnd:", 16)) & bit) != 0;
    n += snprintf(buf + n, cap - n, "%sprocess %d (%s%s%s)", n ? ", " : "", slot->vpid, state_name,
                  pending ? ", the checkpoint signal pending" : "",
                  blocked ? ", the checkpoint signal blocked" : "");
  }
  return n >= cap ? -ENOSPC : n;
}
