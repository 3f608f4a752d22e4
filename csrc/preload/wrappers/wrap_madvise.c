/* madvise: a region made MADV_DONTFORK or MADV_WIPEONFORK is not in a fork's copy as it is
 * here, so a copy-on-write snapshot (agent_cow.c) must read the memory map with its flags
 * (smaps) and save such regions while the process is frozen. Noted here, once and for good. */
#include <sys/mman.h>

#include "../agent/agent_cow.h"
#include "../core/amber.h"

AMBER_EXPORT int madvise(void *addr, size_t len, int advice) {
  if (advice == MADV_DONTFORK || advice == MADV_WIPEONFORK) amber_cow_regions_special = 1;
  return REAL(madvise)(addr, len, advice);
}
