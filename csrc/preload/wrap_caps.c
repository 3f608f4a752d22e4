/* capget and capset name a thread by ID in their header (0: the caller). A program that passes
 * its own pid, as libcap-ng does (setpriv, and daemons that drop capabilities), passes the
 * virtual one: translated in, and the header given back as it was. */
#include <linux/capability.h>

#include "amber.h"

static int translated(cap_user_header_t hdr, int32_t *vpid) {
  *vpid = hdr ? hdr->pid : 0;
  if (!amber_active() || *vpid <= 0) return 0;
  int32_t s = amber_pid_v2s(*vpid);
  if (s < 0) return -ESRCH;
  hdr->pid = s;
  return 0;
}

AMBER_EXPORT int capget(cap_user_header_t hdr, cap_user_data_t data) {
  int32_t vpid;
  if (translated(hdr, &vpid)) {
    errno = ESRCH;
    return -1;
  }
  int r = REAL(capget)(hdr, data);
  if (hdr && vpid > 0) hdr->pid = vpid;
  return r;
}

AMBER_EXPORT int capset(cap_user_header_t hdr, const cap_user_data_t data) {
  int32_t vpid;
  if (translated(hdr, &vpid)) {
    errno = ESRCH;
    return -1;
  }
  int r = REAL(capset)(hdr, data);
  if (hdr && vpid > 0) hdr->pid = vpid;
  return r;
}
