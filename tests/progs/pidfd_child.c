/* A pidfd (PIDFD_NONBLOCK) of a child that runs, as Python 3.12's asyncio holds one per child
 * process, and one of a second child, made by clone3 with CLONE_PIDFD: after the restore, each
 * still names its child (a poll says it runs, pidfd_send_signal reaches it, waitid(P_PIDFD)
 * reaps it with its virtual pid), and the first keeps O_NONBLOCK.
 *
 *   pidfd_child DIR */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "wait_go.h"

#ifndef PIDFD_NONBLOCK
#define PIDFD_NONBLOCK O_NONBLOCK
#endif

static pid_t sleeper(void) {
  pid_t child = fork();
  CHECK(child >= 0, "fork");
  if (child == 0) {
    for (;;) pause();
  }
  return child;
}

/* A child made by clone3 with CLONE_PIDFD, its pidfd in *pidfd. */
static pid_t cloned_sleeper(int *pidfd) {
  struct clone_args args;
  memset(&args, 0, sizeof args);
  args.flags = CLONE_PIDFD;
  args.pidfd = (unsigned long)pidfd;
  args.exit_signal = SIGCHLD;
  long child = syscall(SYS_clone3, &args, sizeof args);
  CHECK(child >= 0, "clone3: errno %d", errno);
  if (child == 0) {
    for (;;) pause();
  }
  return (pid_t)child;
}

static void check_child(int pidfd, pid_t child, const char *which) {
  struct pollfd p = {pidfd, POLLIN, 0};
  CHECK(poll(&p, 1, 0) == 0, "%s: poll says the child ended", which);
  CHECK(syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) == 0, "%s: signal 0: errno %d", which, errno);
  CHECK(syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, NULL, 0) == 0, "%s: SIGTERM: errno %d", which,
        errno);
  p.revents = 0;
  CHECK(poll(&p, 1, 10000) == 1, "%s: poll did not see the child end", which);
  siginfo_t info;
  memset(&info, 0, sizeof info);
  CHECK(waitid(P_PIDFD, pidfd, &info, WEXITED) == 0, "%s: waitid P_PIDFD: errno %d", which, errno);
  CHECK(info.si_pid == child && info.si_code == CLD_KILLED && info.si_status == SIGTERM,
        "%s: waitid: pid %d (want %d), code %d, status %d", which, info.si_pid, child, info.si_code,
        info.si_status);
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: pidfd_child DIR");
  pid_t first = sleeper();
  int first_fd = (int)syscall(SYS_pidfd_open, first, PIDFD_NONBLOCK);
  CHECK(first_fd >= 0, "pidfd_open: errno %d", errno);
  int second_fd = -1;
  pid_t second = cloned_sleeper(&second_fd);
  CHECK(second_fd >= 0, "CLONE_PIDFD gave no descriptor");
  say_ready();
  wait_go(argv[1]);
  CHECK(fcntl(first_fd, F_GETFL) & O_NONBLOCK, "the first pidfd lost O_NONBLOCK");
  check_child(first_fd, first, "the first child");
  check_child(second_fd, second, "the second child");
  printf("PASS\n");
  return 0;
}
