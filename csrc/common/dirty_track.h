/* Dirty-page tracking with userfaultfd's asynchronous write-protect (Linux 6.7): memory
 * registered with UFFD_FEATURE_WP_ASYNC and write-protected takes no fault to user space when
 * written; the kernel only clears the page's write-protect bit, which PAGEMAP_SCAN reports as
 * PAGE_IS_WRITTEN and PM_SCAN_WP_MATCHING sets again in the same pass. Declared here since older
 * kernel headers lack it; the agent (agent_track.c) and `amber check` (ctl_check.c) use it. */
#ifndef AMBER_DIRTY_TRACK_H
#define AMBER_DIRTY_TRACK_H

#include <stdint.h>

#include "pagemap_scan.h"

#define AMBER_UFFD_API 0xAA
#define AMBER_UFFD_FEATURE_WP_UNPOPULATED (1ULL << 13) /* anonymous memory scanned with markers */
#define AMBER_UFFD_FEATURE_WP_ASYNC (1ULL << 15)
#define AMBER_UFFD_USER_MODE_ONLY 1
#define AMBER_UFFDIO_API 0xC018AA3FUL          /* _IOWR(0xAA, 0x3F, struct uffdio_api) */
#define AMBER_UFFDIO_REGISTER 0xC020AA00UL     /* _IOWR(0xAA, 0x00, struct uffdio_register) */
#define AMBER_UFFDIO_WRITEPROTECT 0xC018AA06UL /* _IOWR(0xAA, 0x06, struct uffdio_writeprotect) */
#define AMBER_UFFDIO_REGISTER_MODE_WP 2

struct amber_uffdio_api {
  uint64_t api, features, ioctls;
};
struct amber_uffdio_register {
  uint64_t start, len, mode, ioctls;
};
struct amber_uffdio_writeprotect {
  uint64_t start, len, mode; /* mode 1: protect; 0: clear */
};

/* A scan of [start, end) that fails with EPERM if a mapping in it is not under async
 * write-protect, and reports and walks nothing else: mappings that are are skipped whole. */
static inline struct pm_scan_arg pm_wpasync_check(uint64_t start, uint64_t end) {
  return (struct pm_scan_arg){sizeof(struct pm_scan_arg), PM_SCAN_CHECK_WPASYNC, start, end, 0, 0,
                              0, 0, PAGE_IS_WPALLOWED, PAGE_IS_WPALLOWED, 0, 0};
}

/* The pages of [start, end) written since they were last write-protected, protected again in
 * the same pass. Only pages that hold data (present or swapped): a hole's page tables would be
 * filled with markers (seconds for a sparse terabyte), and a page that appears in a hole later
 * has no write-protect bit, so it is found written. Without vec, the kernel protects every
 * page of the range, holes too. */
static inline struct pm_scan_arg pm_written_scan(uint64_t start, uint64_t end,
                                                 struct pm_page_region *vec, uint64_t len) {
  return (struct pm_scan_arg){sizeof(struct pm_scan_arg),
                              PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
                              start, end, 0, (uint64_t)(uintptr_t)vec, len, 0, 0,
                              PAGE_IS_WRITTEN, PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
                              PAGE_IS_WRITTEN | PAGE_IS_PRESENT | PAGE_IS_SWAPPED};
}

#endif
