/* The bookkeeping of a table of threads with settings of their own (agent_thread_own.h). */
#include "agent.h"
#include "agent_thread_own.h"

void amber_own_begin(struct amber_thread_own *t) { t->n = 0, t->refused_tid = 0; }

void amber_own_refuse(struct amber_thread_own *t, int32_t tid, int32_t why) {
  int32_t none = 0;
  if (__atomic_compare_exchange_n(&t->refused_tid, &none, tid, 0, __ATOMIC_ACQ_REL,
                                  __ATOMIC_ACQUIRE))
    t->refused_why = why;
}

int amber_own_claim(struct amber_thread_own *t, long index, int32_t tid) {
  uint32_t slot = __atomic_fetch_add(&t->n, 1, __ATOMIC_ACQ_REL);
  if (slot >= AMBER_OWN_MAX) {
    amber_own_refuse(t, tid, AMBER_OWN_FULL);
    return -1;
  }
  t->index[slot] = (int32_t)index;
  return (int)slot;
}

int amber_own_check(const struct amber_thread_own *t, const char *what, const char *own_reason,
                    const char *full_reason) {
  int32_t tid = __atomic_load_n(&t->refused_tid, __ATOMIC_ACQUIRE);
  if (!tid) return 0;
  amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error, "thread %d's %s cannot be kept: %s", tid,
            what, t->refused_why == 1 ? own_reason : full_reason);
  return -1;
}

int amber_own_mine(const struct amber_thread_own *t) {
  int32_t tid = amber_sys_gettid();
  for (uint32_t k = 0; k < t->n && k < AMBER_OWN_MAX; k++)
    if (amber_ckpt.threads[t->index[k]].tid == tid) return (int)k;
  return -1;
}
