/* Capabilities: a process running as root that gave some up (a service's bounding set, a
 * sandbox's capset, setpriv or capsh) came back from the restorer, which runs as root, with
 * all of them, without a word. Saved while frozen (the leader's, as the user is): the effective,
 * permitted and inheritable sets, the bounding and ambient sets and the securebits; after a
 * restore each thread, once it has its user back, gives up what the process had given up. A
 * restore can only take capabilities away: one the process had and the restoring user has not
 * stays lost, as before. */
#include <linux/capability.h>
#include <string.h>
#include <sys/prctl.h>

#include "agent.h"

static struct {
  int32_t have, securebits;
  struct __user_cap_data_struct sets[2];
  uint64_t bounding, ambient;
} caps; /* saved with memory */

void amber_caps_capture(void) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  caps.have = amber_sys2(SYS_capget, &h, caps.sets) == 0;
  caps.bounding = caps.ambient = 0;
  for (int c = 0; c < 64; c++) {
    long r = amber_sys2(SYS_prctl, PR_CAPBSET_READ, c);
    if (r < 0) break; /* past the kernel's last capability */
    if (r) caps.bounding |= 1ULL << c;
    if (amber_sys5(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0) == 1)
      caps.ambient |= 1ULL << c;
  }
  caps.securebits = (int32_t)amber_sys1(SYS_prctl, PR_GET_SECUREBITS);
}

/* In every thread, after its change of user. The bounding set and securebits first (they need
 * CAP_SETPCAP, which the sets may give up), then the sets, then the ambient set (raised only
 * from the permitted and inheritable sets). */
void amber_caps_thread_after_restore(void) {
  if (!caps.have) return;
  for (int c = 0; c < 64; c++) {
    long r = amber_sys2(SYS_prctl, PR_CAPBSET_READ, c);
    if (r < 0) break;
    if (r == 1 && !(caps.bounding & (1ULL << c))) amber_sys2(SYS_prctl, PR_CAPBSET_DROP, c);
  }
  if (caps.securebits >= 0 && amber_sys1(SYS_prctl, PR_GET_SECUREBITS) != caps.securebits)
    amber_sys2(SYS_prctl, PR_SET_SECUREBITS, caps.securebits);
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct now[2];
  if (amber_sys2(SYS_capget, &h, now) == 0) {
    struct __user_cap_data_struct want[2]; /* never more than the thread has now */
    for (int i = 0; i < 2; i++) {
      want[i].effective = caps.sets[i].effective & now[i].permitted;
      want[i].permitted = caps.sets[i].permitted & now[i].permitted;
      want[i].inheritable = caps.sets[i].inheritable & (now[i].inheritable | now[i].permitted);
    }
    long err = amber_sys2(SYS_capset, &h, want);
    if (err < 0) amber_log("restore: cannot set the capabilities back (%ld)", err);
  }
  amber_sys5(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  for (int c = 0; c < 64; c++)
    if (caps.ambient & (1ULL << c))
      amber_sys5(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0);
}

/* A thread's own sets (agent_thread_creds.c: inheritable, permitted, effective), after its
 * change of user: never more than it has now. */
void amber_caps_thread_own(const uint64_t sets[3]) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct now[2], want[2];
  if (amber_sys2(SYS_capget, &h, now)) return;
  for (int i = 0; i < 2; i++) {
    want[i].inheritable = (uint32_t)(sets[0] >> (32 * i)) & (now[i].inheritable | now[i].permitted);
    want[i].permitted = (uint32_t)(sets[1] >> (32 * i)) & now[i].permitted;
    want[i].effective = (uint32_t)(sets[2] >> (32 * i)) & now[i].permitted;
  }
  if (memcmp(now, want, sizeof now)) {
    long err = amber_sys2(SYS_capset, &h, want);
    if (err < 0) amber_log("restore: cannot set a thread's own capabilities back (%ld)", err);
  }
}
