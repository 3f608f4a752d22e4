/* The process file in parts (agent_memory.c), for a copy-on-write snapshot (agent_cow.c),
 * which saves some regions in the handler and the others in a copy of the process. */
#ifndef AMBER_AGENT_FILE_H
#define AMBER_AGENT_FILE_H

#include "agent_pages.h"

/* Opens the file, reads the memory map (each region's VmFlags too: with_flags 1 from smaps,
 * 2 from a pre-copy's map where it knows them all, else from smaps) and the parent's index (or
 * the pre-copy's: agent_precopy.c); 0 or -errno. */
int amber_file_begin(const char *dir, int with_flags);
/* This file was pre-copied; and every region's VmFlags are known (read, or the pre-copy's). */
int amber_file_precopied(void);
int amber_file_flags_known(void);
int amber_file_regions(void);
struct amber_region_rec *amber_file_region(int i);
/* Whether a copy of the process (fork) would not hold region i as it is now. */
int amber_file_region_frozen(int i);
/* Scans the written pages of the tracked regions and arms tracking again (agent_track.h):
 * while frozen, after the last write of the handler's that the image may hold. */
void amber_file_track(void);
/* Saves region i's pages; 0 or -errno. */
int amber_file_save_region(int i);
struct page_writer *amber_file_writer(void);
struct amber_sink *amber_file_sink(void);
/* Writes what is left (after err == 0) and closes the file, removed on failure; err or the
 * write's -errno. */
int amber_file_end(int err);
/* The threads', descriptors' and locks' records copied for a write that ends after the thaw
 * (agent_defer.h); 0 or -errno. Forgotten (not unmapped) by a fork's child. */
int amber_file_keep_sections(void);
void amber_file_forget_sections(void);

#endif
