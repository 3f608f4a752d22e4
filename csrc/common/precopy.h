/* Pre-copy snapshots (docs/snapshot-protocol.md, "Pre-copy"): before the freeze, the
 * coordinator write-protects a process's private memory from outside (PAGEMAP_SCAN with
 * PM_SCAN_WP_MATCHING on /proc/<pid>/pagemap, over regions it registered on the agent's own
 * userfaultfd, taken with pidfd_getfd) and copies its pages into the image while it runs
 * (control/ctl_precopy.c). At the freeze the agent finds the pages written since and writes only
 * those; every other page is already in its file (agent_precopy.c).
 *
 * The pages go to DIR/precopy-<vpid>.data, page-aligned from AMBER_PAGE as in a process file,
 * which the agent renames to its process file and writes on after `data_end`; beside it
 * DIR/precopy-<vpid>.index: this header, then `nranges` ranges (every mapping the pre-copy saw,
 * with its VmFlags, and whether it was armed and copied whole), `nruns` runs (depth 0, offsets in
 * the data file) and one XXH64 hash per page of the runs. Neither is left in an image. */
#ifndef AMBER_PRECOPY_H
#define AMBER_PRECOPY_H

#include <stdint.h>

#define AMBER_PRECOPY_MAGIC 0x3150434552504d41ULL /* "AMPRECP1" */
#define AMBER_PRECOPY_DATA_FMT "%s/precopy-%d.data"
#define AMBER_PRECOPY_INDEX_FMT "%s/precopy-%d.index"

struct amber_precopy_header {
  uint64_t magic;
  int32_t vpid, track_fd; /* the agent's userfaultfd the regions were registered on */
  uint32_t nranges, nruns;
  uint64_t npages, data_end;
};

#define AMBER_PRECOPY_ARMED 1u /* write-protected before its pages were copied, all of them */
#define AMBER_PRECOPY_FILE 2u  /* a file's mapping: its clean pages were left to the file */

struct amber_precopy_range {
  uint64_t start, end;
  uint32_t vm_flags; /* common/vm_flags.h, from /proc/<pid>/smaps */
  uint32_t flags;    /* AMBER_PRECOPY_* */
};

#endif
