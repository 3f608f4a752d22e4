/* SysV IPC inside the interposition library (wrap_sysv.c): what the checkpoint agent needs to
 * know about this process's shared-memory attachments. */
#ifndef AMBER_SYSV_H
#define AMBER_SYSV_H

#include <stdint.h>

/* The virtual shmid of the segment this process attached (shmat) at exactly `addr`, or -1.
 * An attachment survives fork (the child inherits it) and ends with shmdt or exec. A segment
 * that the program removed (IPC_RMID) while it stays attached (the kernel keeps it until its
 * last detach) also gives -1: it has no row any more, so a restore could not re-create it. */
int32_t amber_sysv_shm_at(uint64_t addr);

#endif
