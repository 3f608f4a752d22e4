/* Mutexes and rwlocks that name their owner by thread ID. glibc writes the owner's system TID
 * into a held mutex of the recursive, error-checking, robust, priority-inheritance and
 * priority-protect kinds (and into a rwlock held for writing), and compares it on every relock
 * and unlock; robust and PI mutexes carry it in the futex word as well, which the kernel reads
 * when the owner exits or a waiter blocks. A restore gives every thread a new system TID, so a
 * lock held across it would belong to no one: relocking a recursive mutex would deadlock,
 * unlocking would fail with EPERM, a robust mutex's owner could die without its waiters hearing.
 *
 * Each thread keeps a list of such locks it may hold. An entry is written before the lock is
 * taken and removed after it is released, so a checkpoint that lands in between never misses a
 * held lock; after a restore each thread rewrites its old TID to its new one in every listed
 * lock that still names it, and leaves alone any that names another owner (a lock it was only
 * waiting for). Plain mutexes, the common kind, name no owner that is checked and pass straight
 * through. glibc's own recursive locks (taken inside libc, never through these symbols) are not
 * seen: they are held only inside libc calls such as dlopen. */
#include <pthread.h>
#include <threads.h>

#include "../agent/agent.h"
#include "../core/amber.h"

#define OWNED_MAX 256
#define RWLOCK_TAG 1UL /* low bit of an entry: a rwlock, not a mutex */
#define FUTEX_TID_MASK 0x3fffffff

/* The kinds whose owner glibc checks: recursive, error-checking, robust, PI, PP. */
#define KIND_TYPE_MASK 3
#define KIND_ROBUST 16
#define KIND_PI 32
#define KIND_PP 64

static __thread uintptr_t owned[OWNED_MAX];
static __thread int nowned;
/* A thread once held more at one time than the list keeps: its locks cannot all be followed. */
static int owned_overflow;

static int names_owner(const pthread_mutex_t *m) {
  int kind = m->__data.__kind;
  int type = kind & KIND_TYPE_MASK;
  return type == PTHREAD_MUTEX_RECURSIVE || type == PTHREAD_MUTEX_ERRORCHECK ||
         (kind & (KIND_ROBUST | KIND_PI | KIND_PP));
}

static void note(uintptr_t entry) {
  if (nowned == OWNED_MAX) {
    __atomic_store_n(&owned_overflow, 1, __ATOMIC_RELAXED);
    return;
  }
  owned[nowned++] = entry;
}

/* The most recent entry for a lock goes: locks are mostly released in reverse order. */
static void forget(uintptr_t entry) {
  for (int i = nowned - 1; i >= 0; i--)
    if (owned[i] == entry) {
      owned[i] = owned[--nowned];
      return;
    }
}

/* A lock call's outcome: the entry stays only if the lock is held. EOWNERDEAD hands over a
 * robust mutex whose owner died: held too. */
static int kept(uintptr_t entry, int r) {
  if (r != 0 && r != EOWNERDEAD) forget(entry);
  return r;
}

#define MUTEX_LOCK(call, m)                                                                      \
  do {                                                                                           \
    if (!names_owner(m)) return call;                                                            \
    note((uintptr_t)(m));                                                                        \
    return kept((uintptr_t)(m), call);                                                           \
  } while (0)

AMBER_EXPORT int pthread_mutex_lock(pthread_mutex_t *m) { MUTEX_LOCK(REAL(pthread_mutex_lock)(m), m); }
AMBER_EXPORT int pthread_mutex_trylock(pthread_mutex_t *m) {
  MUTEX_LOCK(REAL(pthread_mutex_trylock)(m), m);
}
AMBER_EXPORT int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *t) {
  MUTEX_LOCK(REAL(pthread_mutex_timedlock)(m, t), m);
}
AMBER_EXPORT int pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t c, const struct timespec *t) {
  MUTEX_LOCK(REAL(pthread_mutex_clocklock)(m, c, t), m);
}
AMBER_EXPORT int pthread_mutex_unlock(pthread_mutex_t *m) {
  int r = REAL(pthread_mutex_unlock)(m); /* released first: a checkpoint here finds it unowned */
  if (r == 0 && names_owner(m)) forget((uintptr_t)m);
  return r;
}

/* C11's mtx_t is glibc's pthread_mutex_t, and its calls do not go through the symbols above;
 * they answer thrd_success rather than 0. */
#define MTX_LOCK(call, m)                                                                        \
  do {                                                                                           \
    pthread_mutex_t *p_ = (pthread_mutex_t *)(m);                                                \
    if (!names_owner(p_)) return call;                                                           \
    note((uintptr_t)p_);                                                                         \
    int r_ = call;                                                                               \
    if (r_ != thrd_success) forget((uintptr_t)p_);                                               \
    return r_;                                                                                   \
  } while (0)

AMBER_EXPORT int mtx_lock(mtx_t *m) { MTX_LOCK(REAL(mtx_lock)(m), m); }
AMBER_EXPORT int mtx_trylock(mtx_t *m) { MTX_LOCK(REAL(mtx_trylock)(m), m); }
AMBER_EXPORT int mtx_timedlock(mtx_t *restrict m, const struct timespec *restrict t) {
  MTX_LOCK(REAL(mtx_timedlock)(m, t), m);
}
AMBER_EXPORT int mtx_unlock(mtx_t *m) {
  int r = REAL(mtx_unlock)(m);
  if (r == thrd_success && names_owner((pthread_mutex_t *)m)) forget((uintptr_t)m);
  return r;
}

/* A rwlock held for writing names its writer; one held for reading names no one. */
#define RW_ENTRY(l) ((uintptr_t)(l) | RWLOCK_TAG)
#define RW_LOCK(call, l)                                                                         \
  do {                                                                                           \
    note(RW_ENTRY(l));                                                                           \
    return kept(RW_ENTRY(l), call);                                                              \
  } while (0)

AMBER_EXPORT int pthread_rwlock_wrlock(pthread_rwlock_t *l) { RW_LOCK(REAL(pthread_rwlock_wrlock)(l), l); }
AMBER_EXPORT int pthread_rwlock_trywrlock(pthread_rwlock_t *l) {
  RW_LOCK(REAL(pthread_rwlock_trywrlock)(l), l);
}
AMBER_EXPORT int pthread_rwlock_timedwrlock(pthread_rwlock_t *l, const struct timespec *t) {
  RW_LOCK(REAL(pthread_rwlock_timedwrlock)(l, t), l);
}
AMBER_EXPORT int pthread_rwlock_clockwrlock(pthread_rwlock_t *l, clockid_t c, const struct timespec *t) {
  RW_LOCK(REAL(pthread_rwlock_clockwrlock)(l, c, t), l);
}
AMBER_EXPORT int pthread_rwlock_unlock(pthread_rwlock_t *l) {
  int r = REAL(pthread_rwlock_unlock)(l);
  if (r == 0 && nowned) forget(RW_ENTRY(l)); /* a reader's unlock finds no entry */
  return r;
}

int amber_owned_locks_capture(void) {
  if (amber_pi_futex_capture()) return -1; /* raw PI futexes: kernel/trap_futex.c */
  if (!__atomic_load_n(&owned_overflow, __ATOMIC_RELAXED)) return 0;
  amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
            "a thread held more than %d locks that name their owner at once (recursive, "
            "error-checking, robust or PI mutexes, rwlocks held for writing): Amber cannot give "
            "them to its new thread ID after a restore",
            OWNED_MAX);
  return -1;
}

static void swap_tid(int *word, int mask, int old_tid, int new_tid) {
  int v = __atomic_load_n(word, __ATOMIC_ACQUIRE);
  while ((v & mask) == old_tid &&
         !__atomic_compare_exchange_n(word, &v, (v & ~mask) | new_tid, 0, __ATOMIC_ACQ_REL,
                                      __ATOMIC_ACQUIRE)) {
  }
}

/* One thread's list, found through its TLS base: initial-exec TLS lies at the same offset from
 * every thread's base. */
static void give_to_new_tid(const struct amber_thread_rec *rec) {
  intptr_t self = (intptr_t)__builtin_thread_pointer();
  const uintptr_t *list = (const uintptr_t *)(rec->fs_base + ((intptr_t)owned - self));
  int n = *(const int *)(rec->fs_base + ((intptr_t)&nowned - self));
  for (int i = 0; i < n && i < OWNED_MAX; i++) {
    unsigned char in_core;
    uintptr_t page = (list[i] & ~RWLOCK_TAG) & ~(uintptr_t)(AMBER_PAGE - 1);
    if (amber_sys3(SYS_mincore, page, AMBER_PAGE, &in_core) == -ENOMEM) continue; /* gone */
    if (list[i] & RWLOCK_TAG) {
      pthread_rwlock_t *l = (pthread_rwlock_t *)(list[i] & ~RWLOCK_TAG);
      swap_tid(&l->__data.__cur_writer, -1, rec->old_tid, rec->tid);
      continue;
    }
    pthread_mutex_t *m = (pthread_mutex_t *)list[i];
    swap_tid(&m->__data.__owner, -1, rec->old_tid, rec->tid);
    if (m->__data.__kind & (KIND_ROBUST | KIND_PI))
      swap_tid(&m->__data.__lock, FUTEX_TID_MASK, rec->old_tid, rec->tid);
  }
}

/* Run by the leader once every thread knows its new TID and shared memory holds its saved
 * content again (which would undo a change made earlier), before any thread runs on. */
void amber_owned_locks_after_restore(void) {
  for (int k = 0; k < amber_ckpt.nthreads; k++)
    if (amber_ckpt.threads[k].fs_base && amber_ckpt.threads[k].tid > 0)
      give_to_new_tid(&amber_ckpt.threads[k]);
}
