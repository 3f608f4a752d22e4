/* A pre-copy's part at the freeze (agent_precopy.c, common/precopy.h). */
#ifndef AMBER_AGENT_PRECOPY_H
#define AMBER_AGENT_PRECOPY_H

#include <stdint.h>

struct page_parent;

/* If the coordinator pre-copied this process into dir: its data file becomes the process file
 * at `path` (written on from *data_end) and *base its index; 1. Else 0 (nothing pre-copied, or
 * its files were unusable and are removed: the process is written as without). */
int amber_precopy_take(const char *dir, const char *path, const struct page_parent **base,
                       uint64_t *data_end);
/* The pre-copy's armed regions are what dirty-page tracking follows now; the epoch to classify
 * the regions with (agent_track.c), 0 if none. */
uint64_t amber_precopy_track(void);
/* Each region's VmFlags from the pre-copy's map (own_list: the agent's list of regions, mapped
 * since, which has none); 1 if every region's are known. */
int amber_precopy_flags(void *own_list);
/* How many pages the pre-copy copied (or found in the parent image). */
uint64_t amber_precopy_pages(void);
/* Whether the pre-copy's index refers to pages of the parent image (an incremental one). */
int amber_precopy_refers_up(void);
/* The snapshot is done with it. */
void amber_precopy_release(void);
/* After a restore: the memory it names is not there. */
void amber_precopy_forget(void);

#endif
