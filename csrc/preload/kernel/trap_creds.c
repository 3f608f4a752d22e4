/* Raw SCM_CREDENTIALS (docs/seccomp.md, "Credentials"): a struct ucred in a control message of
 * sendmsg, recvmsg, sendmmsg and recvmmsg names a process, in memory the filter cannot read.
 * libc's calls come through the library's wrappers (wrap_creds.c). The first filter traps every
 * sendmsg and sendmmsg from the program's own code (a sender may name its own pid with or
 * without SO_PASSCRED); a raw receive is seen only by a second filter (common/seccomp_creds.h),
 * which the first filter's trap of SO_PASSCRED stacks once per process: a receiver gets
 * credentials only on a socket with SO_PASSCRED, and a program that never asks for them makes
 * its recvmsg with no trap and no second filter. */
#include <sched.h>
#include <sys/socket.h>

#include "../core/amber.h"
#include "../../common/seccomp_creds.h"
#include "../wrappers/creds_copy.h"
#include "../wrappers/mcast_note.h"
#include "rewrite.h"

int amber_creds_layer; /* the second filter is on this process (a fork's child has it too) */
static int installing; /* the system pid whose thread installs it; -1: the kernel refused it */

int amber_seccomp_vfork_child(void); /* seccomp.c */

static long sys_past(long nr, long a, long b, long c, long d, long e) {
  return amber_sys6(nr, a, b, c, d, e, AMBER_SECCOMP_MAGIC);
}

/* A rewritten site's calls of these go to the translation without a trap from now on. */
static void layer_mark(void) {
  static const long calls[] = {SYS_sendmsg, SYS_recvmsg, SYS_sendmmsg, SYS_recvmmsg};
  if (amber_rw_on)
    for (int i = 0; i < 4; i++)
      __atomic_or_fetch(&amber_rw_handled[calls[i] / 64], 1ULL << (calls[i] % 64),
                        __ATOMIC_RELAXED);
  __atomic_store_n(&amber_creds_layer, 1, __ATOMIC_RELEASE);
}

/* In every program the library starts in: filters stay across exec, and one that is there
 * is never stacked again. */
void amber_creds_early(void) {
  if (amber_seccomp_creds_present()) layer_mark();
}

/* Once per process, in every thread (TSYNC); threads that trap SO_PASSCRED together wait for
 * the first (`installing` holds its process's system pid: a fork's child that finds its
 * parent's there installs for itself). A vfork child's memory is its parent's: it stacks the
 * filter for itself (its exec keeps it), and tells no one. */
static void layer_on(void) {
  if (amber_seccomp_vfork_child()) {
    if (!amber_seccomp_creds_present()) amber_seccomp_creds_install(0);
    return;
  }
  int me = amber_sys_getpid();
  for (;;) {
    if (__atomic_load_n(&amber_creds_layer, __ATOMIC_ACQUIRE)) return;
    int now = __atomic_load_n(&installing, __ATOMIC_ACQUIRE);
    if (now == -1) return;
    if (now == me) amber_sys0(SYS_sched_yield);
    else if (__atomic_compare_exchange_n(&installing, &now, me, 0, __ATOMIC_ACQ_REL,
                                         __ATOMIC_ACQUIRE))
      break;
  }
  long r = amber_seccomp_creds_present() ? 0
                                         : amber_seccomp_creds_install(SECCOMP_FILTER_FLAG_TSYNC);
  if (r == 0) layer_mark();
  else
    amber_log("raw SCM_CREDENTIALS pids are not translated in this process: seccomp refused the "
              "second filter (%ld%s)",
              r, r > 0 ? ", a thread with a filter of its own" : "");
  __atomic_store_n(&installing, r == 0 ? 0 : -1, __ATOMIC_RELEASE);
}

/* setsockopt(SOL_SOCKET, SO_PASSCRED) from anyone but Amber: made, then the second filter when
 * it turned credentials on. A multicast option (a raw call: libc's pass the filter from the
 * wrapper): made and noted in one critical section (wrappers/mcast_note.c). */
long amber_trap_setsockopt(const long a[6]) {
  int mcast = amber_active() && amber_mcast_option((int)a[1], (int)a[2]);
  if (mcast) amber_enter();
  long r = sys_past(SYS_setsockopt, a[0], a[1], a[2], a[3], a[4]);
  if (mcast && r == 0) amber_mcast_note((int)a[0], (int)a[1], (int)a[2], (const void *)a[3], (uint32_t)a[4]);
  if (mcast) amber_leave();
  /* the kernel has read the value: it is there */
  if (r == 0 && (int)a[1] == SOL_SOCKET && (int)a[2] == SO_PASSCRED && amber_active() && a[3] &&
      (uint32_t)a[4] >= sizeof(int) && *(const int *)a[3])
    layer_on();
  return r;
}

/* The kernel accepts a sender's own pid (any with CAP_SYS_ADMIN): the system one, sent from a
 * copy (creds_copy.c). */
static long send_one(const long a[6]) {
  struct amber_creds_copy c;
  const struct msghdr *m;
  long r = amber_creds_copy_one(&c, (const struct msghdr *)a[1], &m);
  if (!r) r = sys_past(SYS_sendmsg, a[0], (long)m, a[2], 0, 0);
  amber_creds_copy_done(&c);
  return r;
}

/* The messages before the first that names no process are sent (the kernel too sends those
 * before a failing one). */
static long send_many(const long a[6]) {
  struct mmsghdr *v = (struct mmsghdr *)a[1], *w;
  struct amber_creds_many c;
  int err;
  unsigned ok = amber_creds_copy_many(&c, v, (unsigned)a[2], &w, &err);
  long r = err && !ok ? -err : sys_past(SYS_sendmmsg, a[0], (long)w, ok, a[3], 0);
  amber_creds_many_done(&c, v, r);
  return r;
}

/* sendmsg, recvmsg, sendmmsg, recvmmsg from the program's own code. A received pid is made
 * virtual where the program reads it (0 for a process outside the application). */
long amber_trap_creds(long nr, const long a[6]) {
  if (nr == SYS_sendmsg) return send_one(a);
  if (nr == SYS_sendmmsg) return send_many(a);
  long r = sys_past(nr, a[0], a[1], a[2], a[3], a[4]);
  if (nr == SYS_recvmsg && r >= 0 && a[1] && ((struct msghdr *)a[1])->msg_controllen)
    amber_creds_out((struct msghdr *)a[1]);
  struct mmsghdr *v = (struct mmsghdr *)a[1];
  for (long i = 0; nr == SYS_recvmmsg && i < r; i++)
    if (v[i].msg_hdr.msg_controllen) amber_creds_out(&v[i].msg_hdr);
  return r;
}
