/* PAGEMAP_SCAN (Linux 6.7), an ioctl on /proc/<pid>/pagemap: the runs of pages of a range that
 * are in given categories, empty page tables skipped whole, so that a reservation of terabytes
 * costs nothing to scan. Declared here since older kernel headers lack it. */
#ifndef AMBER_PAGEMAP_SCAN_H
#define AMBER_PAGEMAP_SCAN_H

#include <stdint.h>

struct pm_page_region {
  uint64_t start, end, categories;
};
struct pm_scan_arg {
  uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
  uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define PAGEMAP_SCAN 0xC0606610UL /* _IOWR('f', 16, struct pm_scan_arg) */
#define PM_SCAN_WP_MATCHING 1     /* write-protect the pages reported (dirty_track.h) */
#define PM_SCAN_CHECK_WPASYNC 2   /* fail (EPERM) on a mapping not under async write-protect */
#define PAGE_IS_WPALLOWED (1 << 0)
#define PAGE_IS_WRITTEN (1 << 1)
#define PAGE_IS_FILE (1 << 2)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_SWAPPED (1 << 4)
#define PAGE_IS_PFNZERO (1 << 5)

/* A scan of [start, end) for pages that hold data (present or swapped), with the categories
 * that tell which need saving. */
static inline struct pm_scan_arg pm_data_scan(uint64_t start, uint64_t end,
                                              struct pm_page_region *vec, uint64_t len) {
  return (struct pm_scan_arg){sizeof(struct pm_scan_arg), 0, start, end, 0, (uint64_t)(uintptr_t)vec,
                              len, 0, 0, 0, PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
                              PAGE_IS_PRESENT | PAGE_IS_SWAPPED | PAGE_IS_FILE | PAGE_IS_PFNZERO};
}

#endif
