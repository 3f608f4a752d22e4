/* Threads made by a raw clone without CLONE_SETTLS (trap_clone_thread.c): they run the program
 * on their creator's thread pointer, so the library's thread-local state (the critical-section
 * depth, the virtual tid, errno) would be their creator's in the handlers that run in them (the
 * SIGSYS handler, the checkpoint agent), written by two threads at once.
 *
 * Each such thread gets a TLS of its own, made by its creator before the clone: a copy of the
 * static TLS block and thread descriptor the creator runs on (glibc's and other libraries'
 * parts, so that code reading them finds what it expects), with the library's own part fresh
 * and the thread's virtual tid in it. The handlers switch a raw thread to it first thing
 * (amber_raw_tls_enter, by its system tid in the registry here) and back last, so the agent
 * captures, and after a restore resumes, the thread on its own TLS; the program's code never
 * runs on it. The registry is process memory, saved with it: each thread writes its new system
 * tid into its entry as it is restored. */
#include <asm/prctl.h>
#include <link.h>
#include <linux/sched.h>
#include <string.h>

#include "../core/amber.h"
#include "raw_threads.h"

#define RAW_MAX 256
enum { RAW_FREE, RAW_LIVE, RAW_GOING };

int amber_raw_threads;
static struct amber_raw_thread raws[RAW_MAX];
static uint32_t raws_high;

extern __thread uint64_t amber_mask_kept; /* seccomp.c */
static __thread uint64_t prog_fs;         /* in a raw thread's own TLS: where enter came from */

/* glibc's static TLS (with the thread descriptor) and the descriptor's size, as pthread_create
 * lays them out: the blocks below the thread pointer, the descriptor at it. */
extern void _dl_get_tls_static_info(size_t *size, size_t *align) __attribute__((weak));
extern const unsigned int _thread_db_sizeof_pthread __attribute__((weak));

static struct {
  int known; /* 1: a TLS can be made; -1: not here */
  size_t size, align, tcb;
  long lib_off; /* the library's TLS block, from the thread pointer */
  size_t lib_memsz, lib_filesz;
  const char *lib_image;
  long vtid_off, mask_off, prog_off;
} geo;

static char *thread_pointer(void) {
  char *p;
  __asm__ volatile("mov %%fs:0, %0" : "=r"(p));
  return p;
}

static int find_own_tls(struct dl_phdr_info *info, size_t size, void *data) {
  uintptr_t me = (uintptr_t)&amber_raw_tls_enter;
  int mine = 0;
  const ElfW(Phdr) *tls = NULL;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
    if (ph->p_type == PT_LOAD && me >= lo && me < lo + ph->p_memsz) mine = 1;
    if (ph->p_type == PT_TLS) tls = ph;
  }
  if (!mine || !tls || !info->dlpi_tls_data) return 0;
  geo.lib_off = (char *)info->dlpi_tls_data - (char *)data;
  geo.lib_memsz = tls->p_memsz;
  geo.lib_filesz = tls->p_filesz;
  geo.lib_image = (const char *)(info->dlpi_addr + tls->p_vaddr);
  return 1;
}

/* Once, in a thread on glibc's TLS (the first raw thread's creator). */
static int geometry(void) {
  if (geo.known) return geo.known > 0;
  char *tp = thread_pointer();
  geo.known = -1;
  if (!_dl_get_tls_static_info || !&_thread_db_sizeof_pthread) return 0;
  _dl_get_tls_static_info(&geo.size, &geo.align);
  geo.tcb = _thread_db_sizeof_pthread;
  if (geo.align < 64) geo.align = 64;
  if (geo.tcb < 64 || geo.size <= geo.tcb || !dl_iterate_phdr(find_own_tls, tp)) return 0;
  geo.vtid_off = (char *)&amber_vtid - tp;
  geo.mask_off = (char *)&amber_mask_kept - tp;
  geo.prog_off = (char *)&prog_fs - tp;
  if (geo.lib_off > 0 || (size_t)-geo.lib_off > geo.size - geo.tcb) return 0;
  geo.known = 1;
  return 1;
}

static struct amber_raw_thread *find_tid(int32_t tid) {
  uint32_t high = __atomic_load_n(&raws_high, __ATOMIC_ACQUIRE);
  for (uint32_t i = 0; i < high && i < RAW_MAX; i++)
    if (__atomic_load_n(&raws[i].state, __ATOMIC_ACQUIRE) == RAW_LIVE &&
        __atomic_load_n(&raws[i].tid, __ATOMIC_ACQUIRE) == tid)
      return &raws[i];
  return NULL;
}

static struct amber_raw_thread *find_fs(uint64_t fs) {
  for (uint32_t i = 0; i < raws_high && i < RAW_MAX; i++)
    if (raws[i].state == RAW_LIVE && raws[i].fs == fs) return &raws[i];
  return NULL;
}

uint64_t amber_raw_tls_enter(void) {
  if (!__atomic_load_n(&amber_raw_threads, __ATOMIC_RELAXED)) return 0;
  struct amber_raw_thread *r = find_tid(amber_sys_gettid());
  if (!r) return 0;
  uint64_t fs = 0;
  amber_sys2(SYS_arch_prctl, ARCH_GET_FS, &fs);
  if (fs == r->fs) return 0; /* a handler inside a handler: on it already */
  *(uint64_t *)(r->fs + geo.prog_off) = fs;
  amber_sys2(SYS_arch_prctl, ARCH_SET_FS, r->fs);
  return fs;
}

void amber_raw_tls_leave(uint64_t fs) {
  if (fs) amber_sys2(SYS_arch_prctl, ARCH_SET_FS, fs);
}

uint64_t amber_raw_tls_program(void) { return prog_fs; }

int32_t amber_raw_thread_vtid(void) {
  if (!__atomic_load_n(&amber_raw_threads, __ATOMIC_RELAXED)) return 0;
  struct amber_raw_thread *r = find_tid(amber_sys_gettid());
  return r ? r->vtid : 0;
}

/* Its row, unless the row went (the supervisor gives a gone thread's back) and is another's. */
static void free_row(struct amber_raw_thread *r) {
  struct amber_table *t = amber.table;
  amber_enter();
  amber_table_lock(t);
  struct amber_row *row = amber_row_by_vid(t, AMBER_KIND_PID, r->vtid);
  int other = 0;
  for (uint32_t i = 0; i < raws_high && i < RAW_MAX; i++)
    other |= &raws[i] != r && raws[i].state == RAW_LIVE && raws[i].vtid == r->vtid;
  if (row && !other && (row->flags & AMBER_PID_THREAD) && row->owner == amber.vpid &&
      (row->sid <= 0 || amber_sys3(SYS_tgkill, amber_sys_getpid(), row->sid, 0) == -ESRCH))
    amber_row_free(row);
  amber_table_unlock(t);
  amber_leave();
}

static void release(struct amber_raw_thread *r) {
  if (r->vtid > 0) free_row(r);
  if (r->block) amber_sys2(SYS_munmap, r->block, r->len);
  r->block = NULL;
  __atomic_store_n(&r->state, RAW_FREE, __ATOMIC_RELEASE);
}

static int gone(const struct amber_raw_thread *r) {
  return r->tid == -1 ||
         (r->tid > 0 && amber_sys3(SYS_tgkill, amber_sys_getpid(), r->tid, 0) == -ESRCH);
}

/* Entries of threads that have exited (a raw thread has no exit hook) go at the next clone. */
static void prune(void) {
  for (uint32_t i = 0; i < raws_high && i < RAW_MAX; i++) {
    int32_t live = RAW_LIVE;
    if (raws[i].state == RAW_LIVE && gone(&raws[i]) &&
        __atomic_compare_exchange_n(&raws[i].state, &live, RAW_GOING, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE))
      release(&raws[i]);
  }
}

static struct amber_raw_thread *claim(void) {
  for (uint32_t i = 0; i < RAW_MAX; i++) {
    int32_t free_state = RAW_FREE;
    if (!__atomic_compare_exchange_n(&raws[i].state, &free_state, RAW_GOING, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE))
      continue;
    uint32_t high = __atomic_load_n(&raws_high, __ATOMIC_ACQUIRE);
    while (high < i + 1 && !__atomic_compare_exchange_n(&raws_high, &high, i + 1, 0,
                                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    }
    return &raws[i];
  }
  return NULL;
}

/* The thread's TLS: the creator's static TLS and descriptor copied, the descriptor pointing at
 * itself, the library's block fresh, then what the thread inherits of it. */
static int make_tls(struct amber_raw_thread *r) {
  size_t below = geo.size - geo.tcb;
  r->len = (geo.size + geo.align + 4095) & ~4095UL;
  long m = amber_sys6(SYS_mmap, 0, (long)r->len, 3, 0x22 /* MAP_PRIVATE|MAP_ANONYMOUS */, -1, 0);
  if (m < 0 && m > -4096) return (int)m;
  r->block = (char *)m;
  char *tp = thread_pointer();
  char *fs = (char *)(((uintptr_t)r->block + below + geo.align - 1) & ~(geo.align - 1));
  memcpy(fs - below, tp - below, geo.size);
  ((uint64_t *)fs)[0] = (uint64_t)fs; /* tcbhead_t: tcb, then dtv, then self */
  ((uint64_t *)fs)[2] = (uint64_t)fs;
  memcpy(fs + geo.lib_off, geo.lib_image, geo.lib_filesz);
  memset(fs + geo.lib_off + geo.lib_filesz, 0, geo.lib_memsz - geo.lib_filesz);
  *(uint64_t *)(fs + geo.mask_off) = amber_mask_kept; /* the mask is inherited */
  long off = amber_pthread_tid_offset();
  r->tid_word = off >= 0 && (size_t)off + 4 <= geo.tcb ? (int32_t *)(fs + off) : NULL;
  /* glibc's robust list head is in the descriptor: the copy's starts empty, and the thread
   * registers it, so that the table's robust lock held in it is released if it dies. */
  uint64_t head = 0, hlen = 0;
  amber_sys3(SYS_get_robust_list, 0, &head, &hlen);
  r->robust = 0;
  if (head >= (uint64_t)tp && head + 24 <= (uint64_t)tp + geo.tcb) {
    r->robust = (uint64_t)fs + (head - (uint64_t)tp);
    ((uint64_t *)r->robust)[0] = r->robust;
    ((uint64_t *)r->robust)[2] = 0;
  }
  r->fs = (uint64_t)fs;
  r->prog_fs = prog_fs ? prog_fs : (uint64_t)tp; /* a raw creator runs on its own TLS here */
  return 0;
}

struct amber_raw_thread *amber_raw_thread_new(uint64_t flags, pid_t *ptid, pid_t *ctid,
                                              int *err) {
  *err = 0;
  if (!geometry()) {
    *err = ENOSYS;
    return NULL;
  }
  prune();
  struct amber_raw_thread *r = claim();
  if (!r) {
    *err = EAGAIN;
    return NULL;
  }
  memset(&r->tid, 0, sizeof *r - sizeof r->state);
  int e = make_tls(r);
  struct amber_table *t = amber.table;
  struct amber_row *row = NULL;
  if (!e) {
    amber_enter();
    amber_table_lock(t);
    row = amber_row_alloc(t, AMBER_KIND_PID);
    if (row) {
      row->flags = AMBER_PID_THREAD;
      row->owner = row->parent = amber.vpid;
      r->vtid = row->vid;
    }
    amber_table_unlock(t);
    amber_leave();
  }
  if (e || !row) {
    release(r);
    *err = e ? -e : EAGAIN;
    return NULL;
  }
  *(int32_t *)(r->fs + geo.vtid_off) = r->vtid;
  r->clear_tid = flags & CLONE_CHILD_CLEARTID ? (uint64_t)ctid : 0;
  r->ptid = flags & CLONE_PARENT_SETTID ? ptid : NULL;
  r->ctid = flags & CLONE_CHILD_SETTID ? ctid : NULL;
  __atomic_store_n(&amber_raw_threads, 1, __ATOMIC_RELEASE);
  __atomic_store_n(&r->state, RAW_LIVE, __ATOMIC_RELEASE);
  return r;
}

/* The thread's system tid, in its entry and its row, and its tid words: by whichever side of
 * the clone comes first, before that side runs the program. The creator leaves alone a
 * CLONE_CHILD_SETTID word that CLONE_CHILD_CLEARTID clears too: the thread may have ended and
 * the kernel cleared it already (the thread writes it before it runs the program). */
static void take_tid(struct amber_raw_thread *r, int32_t tid, int thread) {
  int32_t expected = 0;
  __atomic_compare_exchange_n(&r->tid, &expected, tid, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
  struct amber_row *row = amber_row_by_vid(amber.table, AMBER_KIND_PID, r->vtid);
  expected = -1;
  if (row)
    __atomic_compare_exchange_n(&row->sid, &expected, tid, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
  if (r->ptid) *r->ptid = r->vtid;
  if (r->ctid && (thread || r->clear_tid != (uint64_t)r->ctid)) *r->ctid = r->vtid;
}

void amber_raw_thread_made(struct amber_raw_thread *r, int32_t tid) {
  if (tid > 0) {
    take_tid(r, tid, 0);
    return;
  }
  __atomic_store_n(&r->state, RAW_GOING, __ATOMIC_RELEASE);
  release(r);
}

/* In the new thread, on its creator's thread pointer, before any signal can reach it: no TLS. */
void amber_raw_thread_born(void *entry) {
  struct amber_raw_thread *r = entry;
  int32_t tid = amber_sys_gettid();
  if (r->tid_word) *r->tid_word = tid;
  if (r->robust) amber_sys2(SYS_set_robust_list, r->robust, 24);
  take_tid(r, tid, 1);
  uint64_t fs = 0;
  amber_sys2(SYS_arch_prctl, ARCH_GET_FS, &fs);
  if (fs != r->prog_fs) amber_sys2(SYS_arch_prctl, ARCH_SET_FS, r->prog_fs);
}

void amber_raw_thread_capture(struct amber_thread_rec *rec) {
  if (rec->leader) amber_raw_threads_mark_gone();
  struct amber_raw_thread *r = amber_raw_threads ? find_fs(rec->fs_base) : NULL;
  if (!r) return;
  rec->vtid = r->vtid;
  rec->rseq_addr = 0; /* it has none: the area at its TLS is its creator's copy */
}

void amber_raw_thread_after_restore(const struct amber_thread_rec *rec) {
  struct amber_raw_thread *r = amber_raw_threads ? find_fs(rec->fs_base) : NULL;
  if (!r) return;
  __atomic_store_n(&r->tid, rec->tid, __ATOMIC_RELEASE);
  if (r->tid_word) *r->tid_word = rec->tid;
  amber_sys1(SYS_set_tid_address, r->clear_tid); /* not the copy's word the record names */
}

void amber_raw_thread_seized(struct amber_thread_rec *rec) {
  struct amber_raw_thread *r = amber_raw_threads ? find_tid(rec->old_tid) : NULL;
  if (!r) return;
  r->seized_fs = rec->fs_base;
  rec->fs_base = r->fs;
  rec->vtid = r->vtid;
  rec->tid_addr = (uint64_t)r->tid_word;
}

void amber_raw_thread_resumed(const struct amber_thread_rec *rec) {
  struct amber_raw_thread *r = amber_raw_threads ? find_fs(rec->fs_base) : NULL;
  if (r) amber_sys2(SYS_arch_prctl, ARCH_SET_FS, r->seized_fs);
}

/* By the leader, every thread stopped: an entry whose thread has exited must not name a system
 * tid after a restore, where another thread may get it. */
void amber_raw_threads_mark_gone(void) {
  for (uint32_t i = 0; i < raws_high && i < RAW_MAX; i++)
    if (raws[i].state == RAW_LIVE && raws[i].tid > 0 && gone(&raws[i])) raws[i].tid = -1;
}

void amber_raw_threads_forget(void) {
  uint64_t fs = 0;
  amber_sys2(SYS_arch_prctl, ARCH_GET_FS, &fs);
  /* Forked by a raw thread, on its own TLS: the child goes on on its creator's, whose cached
   * tid is not the child's. */
  struct amber_raw_thread *me = find_fs(fs);
  if (me && geo.known > 0 && prog_fs == me->prog_fs)
    *(int32_t *)(me->prog_fs + geo.vtid_off) = 0;
  for (uint32_t i = 0; i < raws_high && i < RAW_MAX; i++) {
    if (raws[i].state != RAW_FREE && raws[i].fs != fs && raws[i].block)
      amber_sys2(SYS_munmap, raws[i].block, raws[i].len);
    raws[i].state = RAW_FREE;
  }
  raws_high = 0;
  amber_raw_threads = 0;
}
