/* A pre-copied process's file finished after the thaw (agent_defer.c): while frozen, the agent
 * records what the write of its tracked regions reads of the live process (each PAGEMAP_SCAN's
 * answer, a copy of each page it reads); a helper that shares the process's memory then writes
 * the file from that record while the program runs on. */
#ifndef AMBER_AGENT_DEFER_H
#define AMBER_AGENT_DEFER_H

#include <stdint.h>

#include "../../common/pagemap_scan.h"

enum { AMBER_DEFER_LIVE, AMBER_DEFER_RECORD, AMBER_DEFER_REPLAY };
/* LIVE: as without; RECORD: frozen, scans and pages are recorded, nothing is written;
 * REPLAY: in the helper, scans and pages come from the record. */
extern int amber_defer_mode;

/* PAGEMAP_SCAN on fd: the kernel's answer, recorded, or the recorded one. */
long amber_defer_scan(int fd, struct pm_scan_arg *a);
/* RECORD: copies the pages [from, to); 0 or -ENOMEM. */
int amber_defer_copy(uint64_t from, uint64_t to);
/* The bytes of the page at addr: itself, or (REPLAY) the copy recorded of it; 0 if none. */
const void *amber_defer_page(uint64_t addr);
/* Bytes recorded so far (pages and scans). */
uint64_t amber_defer_bytes(void);
/* Starts a record (the last one was released by its helper). */
void amber_defer_begin(void);
/* The helper is done with the record: unmapped, and LIVE again. */
void amber_defer_release(void);

/* The helper runs from here; `in_flight` until it is done. A fork of the program meanwhile
 * gives its child this state with no helper: amber_defer_inherited says so, once. */
void amber_defer_started(void);
void amber_defer_done(void);
int amber_defer_inherited(void);
/* AMBER_TEST_DEFER_DELAY_MS: the helper waits that long before it writes (for tests). */
void amber_defer_test_delay(void);

#endif
