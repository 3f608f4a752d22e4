/* Amber's seccomp filter, put back in a restored process (common/seccomp_filter.h): the
 * restorer's last step before it takes the process's credentials (installing needs
 * CAP_SYS_ADMIN, or no_new_privs, which the process may not have had), before any restored
 * thread starts (they inherit it). From here on every call the restorer and the agent make
 * passes the filter (sys.h); the library's SIGSYS handler comes back with the process's signal
 * actions. Each thread's no_new_privs comes back in the thread itself (agent_flags.c): set here,
 * it would reach every thread, also those that did not have it; only a restore without
 * CAP_SYS_ADMIN of a process that had it sets it here, since the filter then needs it. A
 * process that had turned SO_PASSCRED on gets the second filter back on top of the first. */
#include <linux/prctl.h>

#include "restorer.h"
#include "../common/seccomp_creds.h"

void restore_seccomp(void) {
  if (!(hdr.seccomp & AMBER_SECCOMP_FILTER)) return;
  long r = amber_seccomp_install(0);
  if (r == -13 /* EACCES */ && (hdr.seccomp & AMBER_SECCOMP_NO_NEW_PRIVS)) {
    r = amber_sys5(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (r < 0) die("cannot set no_new_privs", r);
    r = amber_seccomp_install(0);
  }
  if (r == -13 /* EACCES */)
    die("cannot install Amber's seccomp filter: that needs CAP_SYS_ADMIN, which this restore "
        "does not have, or no_new_privs, which the process did not have",
        r);
  if (r < 0) die("cannot install Amber's seccomp filter", r);
  /* the second, on top, as the process had it (kernel/trap_creds.c) */
  if ((hdr.seccomp & AMBER_SECCOMP_CREDS) && (r = amber_seccomp_creds_install(0)) < 0)
    die("cannot install Amber's second seccomp filter (raw SCM_CREDENTIALS)", r);
}
