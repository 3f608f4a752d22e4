/* SysV IPC inside the interposition library (wrap_sysv.c): what the checkpoint agent needs to
 * know about this process's shared-memory attachments. */
#ifndef AMBER_SYSV_H
#define AMBER_SYSV_H

#include <stddef.h>
#include <stdint.h>

/* The virtual shmid of the segment this process attached (shmat) at exactly `addr`, or -1.
 * An attachment survives fork (the child inherits it) and ends with shmdt or exec. A segment
 * that the program removed (IPC_RMID) while it stays attached (the kernel keeps it until its
 * last detach) also gives -1: it has no row any more, so a restore could not re-create it. */
int32_t amber_sysv_shm_at(uint64_t addr);

/* SEM_UNDO adjustments, followed by the library (sysv_undo.c). */
struct sembuf;
void amber_sysv_undo_note(int32_t vsemid, const struct sembuf *sops, size_t nsops);
void amber_sysv_undo_cleared(int32_t vsemid); /* SETVAL, SETALL */
void amber_sysv_undo_forget(void);            /* in a fork's child */
void amber_sysv_undo_after_restore(void);     /* in the agent, after a restore */

#endif
