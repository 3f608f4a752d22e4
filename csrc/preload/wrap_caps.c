/* capget and capset name a thread by ID in their header (0: the caller). A program that passes
 * its own pid, as libcap-ng does (setpriv, and daemons that drop capabilities), passes the
 * virtual one: translated in, and the header given back as it was. */
#include <linux/capability.h>

#include "amber.h"

typedef int (*cap_call)(struct __user_cap_header_struct *, struct __user_cap_data_struct *);

static int with_system_pid(cap_call real, cap_user_header_t hdr, cap_user_data_t data) {
  int32_t vpid = hdr ? hdr->pid : 0;
  if (!amber_active() || vpid <= 0) return real(hdr, data);
  int32_t s = amber_pid_v2s(vpid);
  if (s < 0) {
    errno = ESRCH;
    return -1;
  }
  hdr->pid = s;
  int r = real(hdr, data);
  hdr->pid = vpid;
  return r;
}

AMBER_EXPORT int capget(cap_user_header_t hdr, cap_user_data_t data) {
  return with_system_pid(REAL(capget), hdr, data);
}

AMBER_EXPORT int capset(cap_user_header_t hdr, const cap_user_data_t data) {
  return with_system_pid(REAL(capset), hdr, data);
}
