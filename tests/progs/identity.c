/* Who the process is and what it may use come back as they were: its resource limits, nice
 * value, CPU affinity, parent-death signal, and (started as root) the user and groups it
 * switched to. */
#include <grp.h>
#include <signal.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "check.h"
#include "wait_go.h"

int main(int argc, char **argv) {
  CHECK(argc == 2 || argc == 3, "usage: identity DIR [become-nobody]");
  struct rlimit files = {123, 456};
  CHECK(setrlimit(RLIMIT_NOFILE, &files) == 0, "setrlimit");
  CHECK(setpriority(PRIO_PROCESS, 0, 7) == 0, "setpriority");
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(0, &one);
  CHECK(sched_setaffinity(0, sizeof one, &one) == 0, "sched_setaffinity");
  int root = getuid() == 0 && argc == 3;
  if (root) {
    gid_t groups[] = {65534, 100};
    CHECK(setgroups(2, groups) == 0, "setgroups");
    CHECK(setresgid(65534, 65534, 65534) == 0 && setresuid(65534, 65534, 65534) == 0,
          "switch to nobody");
  }
  CHECK(prctl(PR_SET_PDEATHSIG, SIGHUP) == 0, "PR_SET_PDEATHSIG"); /* a switch of user clears it */
  say_ready();
  wait_go(argv[1]);
  struct rlimit now;
  getrlimit(RLIMIT_NOFILE, &now);
  CHECK(now.rlim_cur == 123 && now.rlim_max == 456, "RLIMIT_NOFILE is %ld/%ld",
        (long)now.rlim_cur, (long)now.rlim_max);
  CHECK(getpriority(PRIO_PROCESS, 0) == 7, "nice is %d", getpriority(PRIO_PROCESS, 0));
  cpu_set_t cpus;
  sched_getaffinity(0, sizeof cpus, &cpus);
  CHECK(CPU_COUNT(&cpus) == 1 && CPU_ISSET(0, &cpus), "the affinity changed");
  int sig = 0;
  prctl(PR_GET_PDEATHSIG, &sig);
  CHECK(sig == SIGHUP, "the parent-death signal is %d", sig);
  if (root) {
    CHECK(getuid() == 65534 && geteuid() == 65534 && getgid() == 65534, "uid %d euid %d gid %d",
          getuid(), geteuid(), getgid());
    gid_t groups[8];
    CHECK(getgroups(8, groups) == 2, "%d groups", getgroups(8, groups));
  }
  printf("PASS\n");
  return 0;
}
