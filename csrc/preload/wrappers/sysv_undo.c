/* SEM_UNDO: the kernel keeps, per process, an adjustment for each semaphore that it applies
 * when the process exits, and no call reads it back. The library follows it instead: each
 * successful semop with SEM_UNDO adds -sem_op to this process's record (kept in its memory, so
 * an image carries it), and a SETVAL or SETALL, which clears every process's adjustments for
 * that set, bumps the set's generation in the tables, voiding older records. After a restore
 * the agent makes the kernel's adjustments again, with one semop per semaphore that leaves its
 * value as it is. A fork's child starts with none, as the kernel's does. */
#include <string.h>
#include <sys/sem.h>

#include "../../common/errno_name.h"
#include "../core/amber.h"
#include "sysv.h"

#define MAX_UNDO 256

static struct undo {
  int32_t vsemid;
  uint16_t num;
  int16_t pad;
  int32_t adj;
  int32_t generation;
} undo[MAX_UNDO];
static int nundo;

/* The set's generation lives in its row (pad), bumped under no lock: only equality matters. */
static int32_t *generation_of(int32_t vsemid) {
  struct amber_row *row = amber_row_by_vid(amber.table, AMBER_KIND_SEM, vsemid);
  return row ? &row->pad : 0;
}

void amber_sysv_undo_note(int32_t vsemid, const struct sembuf *sops, size_t nsops) {
  int32_t *gen = generation_of(vsemid);
  if (!gen) return;
  for (size_t i = 0; i < nsops; i++) {
    if (!(sops[i].sem_flg & SEM_UNDO) || !sops[i].sem_op) continue;
    struct undo *u = 0;
    for (int k = 0; k < nundo && !u; k++)
      if (undo[k].vsemid == vsemid && undo[k].num == sops[i].sem_num) u = &undo[k];
    if (!u && nundo < MAX_UNDO) {
      u = &undo[nundo++];
      *u = (struct undo){vsemid, sops[i].sem_num, 0, 0, *gen};
    }
    if (!u) continue;
    if (u->generation != *gen) u->adj = 0, u->generation = *gen; /* cleared since */
    u->adj -= sops[i].sem_op;
  }
}

void amber_sysv_undo_cleared(int32_t vsemid) {
  int32_t *gen = generation_of(vsemid);
  if (gen) __atomic_add_fetch(gen, 1, __ATOMIC_ACQ_REL);
}

void amber_sysv_undo_forget(void) { nundo = 0; }

/* After a restore (raw calls only: in the agent). An adjustment A comes from one SEM_UNDO op of
 * -A, balanced by a plain op of +A; the increase goes first, so the value never dips. */
void amber_sysv_undo_after_restore(void) {
  for (int k = 0; k < nundo; k++) {
    struct undo *u = &undo[k];
    int32_t *gen = generation_of(u->vsemid);
    int32_t sid = amber_v2s(amber.table, AMBER_KIND_SEM, u->vsemid);
    if (!gen || *gen != u->generation || !u->adj || sid < 0) continue;
    struct sembuf plain = {u->num, (short)u->adj, IPC_NOWAIT};
    struct sembuf with_undo = {u->num, (short)-u->adj, IPC_NOWAIT | SEM_UNDO};
    struct sembuf ops[2];
    ops[0] = u->adj > 0 ? plain : with_undo;
    ops[1] = u->adj > 0 ? with_undo : plain;
    long r = amber_sys3(SYS_semop, sid, ops, 2);
    if (r < 0) amber_log("cannot make SEM_UNDO adjustment %d of semaphore %d again (%s)",
                         u->adj, u->vsemid, amber_errno_name(r));
  }
}
