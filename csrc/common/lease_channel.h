/* The channel on which the agent hands lease renewals to an application's supervisor
 * (csrc/supervisor/lease_fence.c, csrc/control/ctl_lease.c, docs/migration.md). Not a file in the
 * application's directory: the application can write there (as root, anywhere), and so could
 * renew its own lease. The supervisor listens on an abstract Unix socket named after itself (its
 * pid and start time, from SUPERVISOR_FILE), bound before the application's first process
 * starts, and takes a renewal only from a peer that the kernel says (SO_PEERCRED, asked while
 * the peer waits for the answer, so its pid is not reused meanwhile) is not a process of the
 * application: none that descends from the supervisor. A renewal is one line,
 * "<renewal> <fence_ms>\n"; the supervisor answers "ok\n" once it took it. */
#ifndef AMBER_LEASE_CHANNEL_H
#define AMBER_LEASE_CHANNEL_H

#include <stdio.h>
#include <string.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

/* The supervisor `pid` (started at `start`)'s address; its length for bind/connect. */
static inline socklen_t amber_lease_address(struct sockaddr_un *a, int pid, long long start) {
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  /* sun_path[0] stays 0: the abstract namespace, which no file of the application reaches. */
  int n = snprintf(a->sun_path + 1, sizeof a->sun_path - 1, "amber-lease/%d/%lld", pid, start);
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

#endif
