/* The agent's side of the lease's fence (common/lease_channel.h, supervisor/lease_fence.c): each
 * renewal goes to the supervisor on its own socket, which only a process outside the application
 * may speak on, and counts once the supervisor answered. */
#include <errno.h>
#include <stdio.h>
#include <sys/time.h>
#include <unistd.h>

#include "../common/lease_channel.h"
#include "control.h"

#define ANSWER_MS 500

__attribute__((visibility("default"))) int32_t amber_ctl_hand_renewal(const char *app_dir,
                                                                      uint64_t renewal,
                                                                      int32_t fence_ms) {
  int pid;
  long long start;
  if (amber_supervisor_in(app_dir, &pid, &start)) return -ESRCH;
  struct sockaddr_un a;
  socklen_t len = amber_lease_address(&a, pid, start);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  struct timeval tv = {0, ANSWER_MS * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  char line[64], answer[4] = "";
  int n = snprintf(line, sizeof line, "%llu %d\n", (unsigned long long)renewal, fence_ms);
  int err = 0;
  if (connect(fd, (struct sockaddr *)&a, len)) err = -errno;
  else if (write(fd, line, n) != n) err = -EPROTO;
  else if (read(fd, answer, 3) != 3 || answer[0] != 'o' || answer[1] != 'k') err = -EPROTO;
  close(fd);
  return err;
}
