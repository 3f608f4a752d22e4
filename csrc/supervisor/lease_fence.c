/* The lease's fence without the agent (docs/migration.md). With etcd, an application may run only
 * while its computer's agent renews the lease on its virtual IP; the agent stops the application
 * when it cannot renew, but an agent that died stops nothing, and another computer may take the
 * application over once the lease expires. So the agent also hands each renewal to the
 * application's supervisor, as a file in its directory (LEASE_FILE: "<renewal> <fence_ms>"), and
 * the supervisor stops (SIGSTOP) the application's processes on its own when no new renewal came
 * for fence_ms (half the lease's TTL: before etcd can let it expire). It writes FROZEN_FILE then,
 * and never lets the application go on by itself: the agent, once back and holding a lease, lets
 * it go on if its virtual IP is still its own, or ends it (lease.ts).
 *
 * Renewals are counted, not timed: the supervisor measures their absence on its own monotonic
 * clock, so that no clock is compared between processes. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/members.h"
#include "supervisor.h"

#define LEASE_FILE "lease"
#define FROZEN_FILE "frozen"
#define POLL_MS 100

static struct amber_table *table;
static char lease_path[4200], frozen_path[4200];

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* The last renewal's number and the fence's delay; 0, or -1 when there is no lease file. */
static int read_lease(unsigned long long *renewal, long *fence_ms) {
  int fd = open(lease_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[64];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  if (sscanf(buf, "%llu %ld", renewal, fence_ms) != 2 || *fence_ms <= 0) return -1;
  return 0;
}

/* Stops every process of the application (checked to descend from this supervisor: the tables
 * are the application's word), and says so where the agent looks. */
static void freeze(void) {
  long long start = amber_proc_stat_field(getpid(), 22);
  for (uint32_t i = 0; i < table->high[AMBER_KIND_PID] && i < AMBER_TABLE_ROWS; i++) {
    struct amber_row *r = &table->rows[AMBER_KIND_PID][i];
    int32_t sid = __atomic_load_n(&r->sid, __ATOMIC_ACQUIRE);
    if (r->state == AMBER_ROW_LIVE && (r->flags & AMBER_PID_PROCESS) && sid > 0 &&
        amber_descends_from(sid, getpid(), start))
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
  int known = 0, frozen = 0;
  for (;;) {
    usleep(POLL_MS * 1000);
    unsigned long long renewal;
    long fence_ms;
    if (read_lease(&renewal, &fence_ms)) {
      known = 0; /* not under a lease (any more) */
      continue;
    }
    if (!known || renewal != last) {
      known = 1;
      last = renewal;
      seen_at = now_ms();
      frozen = 0;
    } else if (!frozen && now_ms() - seen_at >= fence_ms) {
      freeze();
      frozen = 1;
    }
  }
  return NULL;
}

void sup_lease_fence_start(struct amber_table *t, const char *app_dir) {
  table = t;
  if (snprintf(lease_path, sizeof lease_path, "%s/%s", app_dir, LEASE_FILE) >=
          (int)sizeof lease_path ||
      snprintf(frozen_path, sizeof frozen_path, "%s/%s", app_dir, FROZEN_FILE) >=
          (int)sizeof frozen_path)
    return;
  sup_thread_start(watch);
}
