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
/* Forgets this snapshot's buffers without unmapping them (a fork's child: agent_defer.h). */
void amber_track_forget_buffers(void);
/* A pre-copy armed `ranges` on this agent's userfaultfd `fd` (common/precopy.h): they are
 * what is tracked now; the epoch to classify with, 0 if it is not this agent's. */
struct amber_precopy_range;
uint64_t amber_track_precopied(const struct amber_precopy_range *ranges, uint32_t n, int32_t fd);
/* How many pages the tracked regions' scan found written (after amber_track_scan_and_arm). */
uint64_t amber_track_written_pages(void);

#endif
