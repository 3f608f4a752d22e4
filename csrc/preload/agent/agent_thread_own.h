/* Threads whose own settings differ from the leader's (agent_sched.c's scheduling,
 * agent_thread_creds.c's credentials): few do, so each keeps a small table, by the thread's
 * index in amber_ckpt.threads, in the library's data (saved with memory); more threads than it
 * holds, or a thread whose own cannot be kept, make the snapshot refuse, naming one. This is
 * the table's bookkeeping; the settings themselves are each file's, in an array by slot. */
#ifndef AMBER_AGENT_THREAD_OWN_H
#define AMBER_AGENT_THREAD_OWN_H

#include <stdint.h>

#define AMBER_OWN_MAX 32
#define AMBER_OWN_FULL 2 /* the refusal's reason when the table is full */

struct amber_thread_own {
  uint32_t n;
  int32_t refused_tid, refused_why; /* the first thread whose own could not be kept, and why */
  int32_t index[AMBER_OWN_MAX];
};

/* By the leader, before any thread takes its part. */
void amber_own_begin(struct amber_thread_own *t);
/* A slot for thread `index` (system TID `tid`), or -1: the table is full, and refuses it. */
int amber_own_claim(struct amber_thread_own *t, long index, int32_t tid);
/* The first refusal wins. */
void amber_own_refuse(struct amber_thread_own *t, int32_t tid, int32_t why);
/* After every thread's capture: 0, or -1 with amber_ckpt.error "thread T's WHAT cannot be kept:
 * REASON", the refusal's own reason (why 1) or the full table's. */
int amber_own_check(const struct amber_thread_own *t, const char *what, const char *own_reason,
                    const char *full_reason);
/* After a restore: the calling thread's slot, or -1 (it takes the leader's). */
int amber_own_mine(const struct amber_thread_own *t);

#endif
