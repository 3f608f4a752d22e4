/* Copy-on-write snapshots (agent_cow.c). */
#ifndef AMBER_AGENT_COW_H
#define AMBER_AGENT_COW_H

/* Set once the program made a region MADV_DONTFORK or MADV_WIPEONFORK (wrap_madvise.c): its
 * snapshots then read the memory map's flags while it is frozen. */
extern volatile int amber_cow_regions_special;

#endif
