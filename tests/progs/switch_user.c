/* A program started as root whose child becomes nobody, as servers that drop privileges do:
 *   switch_user DIR fork   the child calls setuid and runs on
 *   switch_user DIR exec   the child calls setuid, then execs this program as a worker, which
 *                          can no longer open the application's private directory (and
 *                          first closes every descriptor above 3, as spawning code does)
 *   switch_user DIR bare   the child execs sleep without Amber's library (a raw execve with
 *                          an empty environment): a process Amber cannot freeze
 *   switch_user DIR report one process that stays as it was started, and after the restore
 *                          says who it is ("uid U euid E gid G"), for tests that give its
 *                          image to another user
 * Each process checks, before and after the restore, that it runs under Amber (virtual pids)
 * and who it is: the parent root, the child nobody (uid, euid, gid, groups). */
#include <grp.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "check.h"
#include "wait_go.h"

#define NOBODY 65534
#define VPID_BASE 4200000

static void check_identity(const char *who, uid_t uid, gid_t gid, int ngroups) {
  CHECK(getpid() >= VPID_BASE, "%s runs without virtual pids (pid %d)", who, getpid());
  if (uid == NOBODY) CHECK(getpriority(PRIO_PROCESS, 0) == -5, "%s: nice %d", who,
                           getpriority(PRIO_PROCESS, 0));
  uid_t r, e, s;
  getresuid(&r, &e, &s);
  CHECK(r == uid && e == uid && s == uid, "%s: uids %d %d %d, expected %d", who, r, e, s, uid);
  gid_t gr, ge, gs;
  getresgid(&gr, &ge, &gs);
  CHECK(gr == gid && ge == gid && gs == gid, "%s: gids %d %d %d, expected %d", who, gr, ge, gs,
        gid);
  gid_t groups[16];
  int n = getgroups(16, groups);
  if (ngroups >= 0) CHECK(n == ngroups, "%s: %d groups, expected %d", who, n, ngroups);
  if (uid == NOBODY) CHECK(n == 2 && groups[0] + groups[1] == NOBODY + 100 && groups[0] != groups[1],
                          "%s: groups %d %d", who, groups[0], groups[1]);
}

/* The child's life as nobody: say so through `ready_fd`, wait, check again. */
static int child_main(const char *dir, int ready_fd) {
  check_identity("the child", NOBODY, NOBODY, 2);
  CHECK(write(ready_fd, "x", 1) == 1, "cannot tell the parent");
  close(ready_fd);
  wait_go(dir);
  check_identity("the child after the restore", NOBODY, NOBODY, 2);
  return 0;
}

static void become_nobody(void) {
  CHECK(setpriority(PRIO_PROCESS, 0, -5) == 0, "setpriority -5"); /* kept: root set it */
  gid_t groups[] = {NOBODY, 100};
  CHECK(setgroups(2, groups) == 0, "setgroups");
  CHECK(setresgid(NOBODY, NOBODY, NOBODY) == 0 && setresuid(NOBODY, NOBODY, NOBODY) == 0,
        "switch to nobody");
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc == 4 && !strcmp(argv[2], "worker")) return child_main(argv[1], atoi(argv[3]));
  if (argc == 3 && !strcmp(argv[2], "report")) {
    say_ready();
    wait_go(argv[1]);
    printf("uid %d euid %d gid %d\n", getuid(), geteuid(), getgid());
    printf("PASS\n");
    return 0;
  }
  CHECK(argc == 3 && (!strcmp(argv[2], "fork") || !strcmp(argv[2], "exec") ||
                      !strcmp(argv[2], "bare")),
        "usage: switch_user DIR fork|exec|bare");
  CHECK(getuid() == 0, "this test program must be started as root");
  int ready[2];
  CHECK(pipe(ready) == 0, "pipe");
  pid_t child = fork();
  CHECK(child >= 0, "fork");
  if (child == 0) {
    close(ready[0]);
    become_nobody();
    if (!strcmp(argv[2], "fork")) return child_main(argv[1], ready[1]);
    if (!strcmp(argv[2], "bare")) {
      CHECK(write(ready[1], "x", 1) == 1, "cannot tell the parent");
      char *sleep_argv[] = {"sleep", "600", NULL}, *no_env[] = {NULL};
      syscall(SYS_execve, "/bin/sleep", sleep_argv, no_env);
      CHECK(0, "exec sleep");
    }
    /* As spawning code does: keep what the worker needs, close everything else; and take the
     * number Amber's own descriptor had, which must step aside. */
    const char *amber_fd = getenv("AMBER_TABLE_FD");
    CHECK(!amber_fd || dup2(2, atoi(amber_fd)) == atoi(amber_fd), "dup2 onto Amber's descriptor");
    CHECK(dup2(ready[1], 3) == 3, "dup2");
    closefrom(4);
    execl("/proc/self/exe", argv[0], argv[1], "worker", "3", (char *)NULL);
    CHECK(0, "exec");
  }
  close(ready[1]);
  char x;
  CHECK(read(ready[0], &x, 1) == 1, "the child did not start");
  close(ready[0]);
  check_identity("the parent", 0, 0, -1);
  say_ready();
  wait_go(argv[1]);
  check_identity("the parent after the restore", 0, 0, -1);
  int status;
  CHECK(waitpid(child, &status, 0) == child, "waitpid");
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child ended with status 0x%x",
        status);
  printf("PASS\n");
  return 0;
}
