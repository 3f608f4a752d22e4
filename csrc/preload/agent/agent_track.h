/* Dirty-page tracking for incremental images (agent_track.c). */
#ifndef AMBER_AGENT_TRACK_H
#define AMBER_AGENT_TRACK_H

#include <stdint.h>

#include "../../common/pagemap_scan.h"

/* Once the memory map is read: which regions are tracked since the last snapshot, which are
 * to be armed afresh; whether the parent image (its epoch) is the state they are tracked
 * from. 0 (a failure only leaves regions untracked). */
int amber_track_classify(int pagemap_fd, uint64_t parent_epoch);
/* While frozen, right before the copy: the tracked regions' written pages, and arms every
 * region again; the new epoch for the image's header, 0 if nothing is armed. */
uint64_t amber_track_scan_and_arm(int pagemap_fd);
/* Region i's written pages (sorted by start), if it is tracked and the parent is the state it
 * is tracked from; else 0: its pages are hashed and compared. */
int amber_track_runs(int i, const struct pm_page_region **runs, uint64_t *n);
/* Whether this snapshot uses tracking. */
int amber_track_used(void);
/* The snapshot's scan results are no longer needed (the copy has its own). */
void amber_track_release(void);
/* After a restore: nothing is tracked (the next snapshot arms afresh). */
void amber_track_forget(void);

#endif
