/* What the kernel keeps about who the process is and what it may use: credentials, resource
 * limits (each thread's scheduling: agent_sched.c). Saved while frozen, put back after a
 * restore (credentials by every thread: the kernel keeps them per thread). And
 * the state Amber cannot save yet, refused by name rather than lost: seccomp filters. */
#include <sched.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "agent.h"
#include "../../common/seccomp_creds.h"

#define NLIMITS 16

static struct {
  uint32_t uid[3], gid[3]; /* real, effective, saved */
  uint32_t groups[64];
  int32_t ngroups;
  int32_t dumpable;
  uint64_t limits[NLIMITS][2];
  int32_t seccomp; /* AMBER_SECCOMP_* */
} id; /* saved with memory */

int32_t amber_identity_seccomp(void) { return id.seccomp; }

/* The filters Amber can put back are its own (seccomp.c): one, answering its probe, or two,
 * the second answering its own (kernel/trap_creds.c). */
static int seccomp_capture(const char *status) {
  id.seccomp = amber_sys2(SYS_prctl, PR_GET_NO_NEW_PRIVS, 0) == 1 ? AMBER_SECCOMP_NO_NEW_PRIVS : 0;
  const char *p = strstr(status, "Seccomp:");
  if (!p || !p[8] || p[9] == '0') return 0;
  const char *n = strstr(status, "Seccomp_filters:");
  if (n) n += 16;
  while (n && (*n == ' ' || *n == '\t')) n++;
  int one = n && (n[1] < '0' || n[1] > '9') ? n[0] - '0' : 0;
  if (p[9] == '2' && (one == 1 || (one == 2 && amber_seccomp_creds_present())) &&
      amber_seccomp_present()) {
    id.seccomp |= AMBER_SECCOMP_FILTER | (one == 2 ? AMBER_SECCOMP_CREDS : 0);
    return 0;
  }
  amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
            "it runs under a seccomp filter of its own, which Amber cannot save yet");
  return -1;
}

/* A process that switched users is not dumpable, and may then not read its own /proc files
 * (pagemap, fd). The agent makes it dumpable for the snapshot, and puts the flag back after. */
void amber_identity_open_proc(void) {
  id.dumpable = (int32_t)amber_sys2(SYS_prctl, PR_GET_DUMPABLE, 0);
  if (id.dumpable != 1) amber_sys2(SYS_prctl, PR_SET_DUMPABLE, 1);
}

/* Also after a restore, where a change of user has just made the process not dumpable. */
void amber_identity_close_proc(void) {
  if (id.dumpable >= 0 && id.dumpable != amber_sys2(SYS_prctl, PR_GET_DUMPABLE, 0))
    amber_sys2(SYS_prctl, PR_SET_DUMPABLE, id.dumpable);
}

int amber_identity_capture(void) {
  static char text[8192];
  if (amber_read_file("/proc/self/status", text, sizeof text) > 0 && seccomp_capture(text))
    return -1;
  amber_sys3(SYS_getresuid, &id.uid[0], &id.uid[1], &id.uid[2]);
  amber_sys3(SYS_getresgid, &id.gid[0], &id.gid[1], &id.gid[2]);
  long n = amber_sys2(SYS_getgroups, 64, id.groups);
  id.ngroups = n < 0 ? -1 : (int32_t)n;
  for (int r = 0; r < NLIMITS; r++) amber_sys4(SYS_prlimit64, 0, r, 0, id.limits[r]);
  amber_caps_capture();
  if (amber_creds_check()) return -1; /* every thread has taken its part by now */
  return amber_sched_check();
}

/* Limits a user may not raise again (a hard limit above what the restorer has) stay lower. */
void amber_identity_after_restore(void) {
  for (int r = 0; r < NLIMITS; r++) amber_sys4(SYS_prlimit64, 0, r, id.limits[r], 0);
}

/* In every thread (the kernel keeps these per thread), and in the leader last of all, once it
 * has opened what the process holds: its scheduling, then the credentials (groups first,
 * the user last, as privilege is given up). */
void amber_identity_thread_after_restore(void) {
  amber_sched_thread_after_restore(); /* agent_sched.c: policy, nice, I/O priority, affinity */
  if (id.ngroups >= 0) amber_sys2(SYS_setgroups, id.ngroups, id.groups);
  /* This thread's own, if it had changed them for itself (agent_thread_creds.c) */
  int own;
  const struct amber_thread_creds *c = amber_creds_mine(&own);
  const uint32_t *want_gid = own ? c->gid : id.gid, *want_uid = own ? c->uid : id.uid;
  uint32_t gid[3], uid[3];
  amber_sys3(SYS_getresgid, &gid[0], &gid[1], &gid[2]);
  amber_sys3(SYS_getresuid, &uid[0], &uid[1], &uid[2]);
  if (memcmp(gid, want_gid, sizeof gid))
    amber_sys3(SYS_setresgid, want_gid[0], want_gid[1], want_gid[2]);
  if (c && (uint32_t)amber_sys1(SYS_setfsgid, -1) != c->gid[3]) amber_sys1(SYS_setfsgid, c->gid[3]);
  if (memcmp(uid, want_uid, sizeof uid))
    amber_sys3(SYS_setresuid, want_uid[0], want_uid[1], want_uid[2]);
  if (c && (uint32_t)amber_sys1(SYS_setfsuid, -1) != c->uid[3]) amber_sys1(SYS_setfsuid, c->uid[3]);
  amber_caps_thread_after_restore(); /* agent_caps.c: what it had given up, given up again */
  if (own) amber_caps_thread_own(c->caps); /* and a thread's own sets, as they were */
  /* A change of user clears these two: as they were. */
  amber_flags_thread_pdeathsig();
  amber_identity_close_proc();
}
