/* The lease's fence without the agent (docs/migration.md). With etcd, an application may run only
 * while its computer's agent renews the lease on its name and virtual IP; the agent stops it
 * when it cannot renew, but an agent that died stops nothing, and another computer may take the
 * application over once the lease expires. So the agent also hands each renewal to the
 * application's supervisor, on a channel the application cannot speak on (common/lease_channel.h:
 * "<renewal> <fence_ms>"), and the supervisor stops (SIGSTOP) the application's processes on its
 * own when no new renewal came for fence_ms (half the lease's TTL: before etcd can let it
 * expire). It writes FROZEN_FILE then, and never lets the application go on by itself: the agent,
 * once back and holding a lease, lets it go on if its virtual IP is still its own, or ends it
 * (lease.ts). Once it was handed one renewal, the application is under the lease for good.
 *
 * Renewals are counted, not timed: the supervisor measures their absence on its own monotonic
 * clock, so that no clock is compared between processes. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "../common/lease_channel.h"
#include "../common/members.h"
#include "supervisor.h"

#define FROZEN_FILE "frozen"
#define POLL_MS 100
#define ANSWER_MS 200

static struct amber_table *table;
static char frozen_path[4200];
static int listener = -1;
static long long self_start;

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int sup_lease_fence_listen(void) {
  self_start = amber_proc_start_time(getpid());
  struct sockaddr_un a;
  socklen_t len = amber_lease_address(&a, getpid(), self_start);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (bind(fd, (struct sockaddr *)&a, len) || listen(fd, 16)) {
    close(fd);
    return -1;
  }
  listener = fd;
  return 0;
}

/* Whether the peer on `fd` may renew: a process outside the application, of root or this
 * supervisor's user. Asked while it waits for the answer, so its pid is still its own. */
static int trusted_peer(int fd) {
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) || cred.pid <= 1) return 0;
  if (cred.uid != 0 && cred.uid != geteuid()) return 0;
  return cred.pid != getpid() && !amber_descends_from(cred.pid, getpid(), self_start);
}

/* Takes one renewal from a new connection: 0 and its values, or -1 (refused, malformed). */
static int take_renewal(unsigned long long *renewal, long *fence_ms) {
  int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
  if (fd < 0) return -1;
  struct timeval tv = {0, ANSWER_MS * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  char buf[64];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  int ok = n > 0 && trusted_peer(fd);
  if (ok) {
    buf[n] = 0;
    ok = sscanf(buf, "%llu %ld", renewal, fence_ms) == 2 && *fence_ms > 0;
  }
  if (ok && write(fd, "ok\n", 3) != 3) ok = 0;
  close(fd);
  return ok ? 0 : -1;
}

/* Stops every process of the application (checked to descend from this supervisor: the tables
 * are the application's word), and says so where the agent looks. */
static void freeze(void) {
  for (uint32_t i = 0; i < table->high[AMBER_KIND_PID] && i < AMBER_TABLE_ROWS; i++) {
    struct amber_row *r = &table->rows[AMBER_KIND_PID][i];
    int32_t sid = __atomic_load_n(&r->sid, __ATOMIC_ACQUIRE);
    if (r->state == AMBER_ROW_LIVE && (r->flags & AMBER_PID_PROCESS) && sid > 0 &&
        amber_descends_from(sid, getpid(), self_start))
      kill(sid, SIGSTOP);
  }
  int fd = open(frozen_path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd >= 0) {
    static const char why[] = "stopped: the agent's lease renewals stopped\n";
    if (write(fd, why, sizeof why - 1) < 0) {} /* the stop is what matters */
    close(fd);
  }
}

static void *watch(void *arg) {
  (void)arg;
  unsigned long long last = 0;
  long long seen_at = 0;
  long fence = 0;
  int known = 0, frozen = 0;
  for (;;) {
    struct pollfd p = {.fd = listener, .events = POLLIN};
    unsigned long long renewal;
    long fence_ms;
    if (poll(&p, 1, POLL_MS) > 0 && take_renewal(&renewal, &fence_ms) == 0 &&
        (!known || renewal != last)) {
      known = 1;
      last = renewal;
      fence = fence_ms;
      seen_at = now_ms();
      frozen = 0;
    } else if (known && !frozen && now_ms() - seen_at >= fence) {
      freeze();
      frozen = 1;
    }
  }
  return NULL;
}

void sup_lease_fence_start(struct amber_table *t, const char *app_dir) {
  table = t;
  if (listener < 0 ||
      snprintf(frozen_path, sizeof frozen_path, "%s/%s", app_dir, FROZEN_FILE) >=
          (int)sizeof frozen_path)
    return;
  sup_thread_start(watch);
}
