/* A process of the application that runs without Amber's library has no agent to answer the
 * checkpoint signal: a set-ID program (sudo, ssh-agent) the application exec'd, into which the
 * kernel does not preload libraries (secure execution), or one whose environment lost
 * LD_PRELOAD. Waiting for it would end in a timeout that names nothing; once it has gone a
 * while without the library's handler for the checkpoint signal (a fresh exec gets its handler
 * in the library's constructor, at once), its slot fails with the reason. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/ckpt_signal.h"
#include "../common/proc.h"
#include "../common/table.h"
#include "control.h"

#define PATIENCE_MS 300 /* from the first look to the verdict */

int amber_ctl_ckpt_handler(int32_t sid, int *blocked) {
  char status[4096];
  if (amber_proc_status(sid, status, sizeof status) <= 0) return -1;
  const char *state = strstr(status, "State:\t");
  if (state && (state[7] == 'Z' || state[7] == 'X')) return -1; /* its report is another's */
  unsigned long long bit = 1ULL << (AMBER_CKPT_SIGNAL - 1);
  *blocked = (amber_status_field(status, "SigBlk:", 16) & bit) != 0;
  return (amber_status_field(status, "SigCgt:", 16) & bit) != 0;
}

/* Its auxiliary vector says AT_SECURE: the kernel ran it with changed credentials. */
static int secure_exec(int32_t sid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/auxv", sid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  unsigned long long auxv[128];
  ssize_t n = read(fd, auxv, sizeof auxv);
  close(fd);
  for (ssize_t i = 0; i + 1 < n / 8; i += 2)
    if (auxv[i] == 23 /* AT_SECURE */) return auxv[i + 1] != 0;
  return 0;
}

static void explain(int32_t sid, int32_t vpid, char *out, size_t cap) {
  char link[64], exe[256] = "?", comm[32] = "?";
  snprintf(link, sizeof link, "/proc/%d/exe", sid);
  ssize_t n = readlink(link, exe, sizeof exe - 1);
  exe[n > 0 ? n : 1] = 0;
  snprintf(link, sizeof link, "/proc/%d/comm", sid);
  int fd = open(link, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    n = read(fd, comm, sizeof comm - 1);
    comm[n > 0 ? n - (comm[n - 1] == '\n') : 1] = 0;
    close(fd);
  }
  struct stat st;
  int setid = stat(exe, &st) == 0 ? st.st_mode & (S_ISUID | S_ISGID) : 0;
  const char *why =
      secure_exec(sid)
          ? (setid & S_ISUID ? "it is set-user-ID, and the kernel preloads no library into a program that changes its credentials"
             : setid         ? "it is set-group-ID, and the kernel preloads no library into a program that changes its credentials"
                             : "the kernel runs it with changed credentials (file capabilities), and preloads no library into it")
          : "its environment lost LD_PRELOAD, or it is statically linked";
  snprintf(out, cap, "process %d (%s, %s) runs without Amber's library, which cannot save it: %s",
           vpid, comm, exe, why);
}

int amber_ctl_find_unmanaged(struct amber_table *t, int64_t now_ms, int64_t *first_look) {
  struct amber_ctl *c = &t->ctl;
  int lacking = 0;
  for (uint32_t i = 0; i < c->nslots; i++) {
    struct amber_agent_slot *slot = &c->slots[i];
    if (__atomic_load_n(&slot->state, __ATOMIC_ACQUIRE) != AMBER_AGENT_NONE) continue;
    int32_t sid = amber_v2s(t, AMBER_KIND_PID, slot->vpid);
    int blocked;
    if (sid <= 0 || amber_ctl_ckpt_handler(sid, &blocked) != 0) continue;
    lacking = 1;
    if (!*first_look || now_ms - *first_look < PATIENCE_MS) continue;
    explain(sid, slot->vpid, slot->error, sizeof slot->error);
    int32_t none = AMBER_AGENT_NONE;
    if (__atomic_compare_exchange_n(&slot->state, &none, AMBER_AGENT_FAILED, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE))
      return -EIO;
  }
  *first_look = lacking ? (*first_look ? *first_look : now_ms) : 0;
  return 0;
}
