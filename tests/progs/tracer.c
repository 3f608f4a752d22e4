/* A tracer inside the application: it seizes its child by virtual pid, follows the child's
 * fork, and must learn the grandchild's virtual pid from the event (PTRACE_GETEVENTMSG), the one
 * the child's fork returned; the child names its parent as its tracer (PR_SET_PTRACER) by
 * virtual pid. Then it holds the child traced ("traced" on stdout) until <dir>/untrace exists,
 * since a snapshot must refuse a traced process; then detaches, says "ready", and after the
 * restore traces again the same way. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include "check.h"
#include "wait_go.h"

static int to_child[2], from_child[2];

static void child_loop(void) {
  for (;;) {
    char c;
    if (read(to_child[0], &c, 1) != 1) _exit(1);
    if (c == 'p') { /* name the parent as tracer, by its virtual pid (Yama's call: without
                       Yama, the kernel refuses it whatever the pid) */
      int yama = access("/proc/sys/kernel/yama", F_OK) == 0;
      int r = prctl(PR_SET_PTRACER, getppid(), 0, 0, 0);
      int32_t answer = r == 0 || (!yama && errno == EINVAL) ? 0 : errno;
      CHECK(write(from_child[1], &answer, 4) == 4, "write");
    } else if (c == 'f') { /* fork a grandchild that exits at once; say its pid */
      pid_t g = fork();
      if (g == 0) _exit(7);
      int status;
      CHECK(waitpid(g, &status, 0) == g && WEXITSTATUS(status) == 7, "the grandchild");
      int32_t pid = g;
      CHECK(write(from_child[1], &pid, 4) == 4, "write");
    }
  }
}

static void ask(char what, int32_t *answer) {
  CHECK(write(to_child[1], &what, 1) == 1, "write");
  if (answer) CHECK(read(from_child[0], answer, 4) == 4, "read");
}

/* Reads the child's answer while letting it through the signal stops it meets meanwhile (its
 * grandchild's SIGCHLD stops it for the tracer to see). */
static void read_while_tracing(pid_t child, int32_t *answer) {
  for (;;) {
    struct pollfd p = {from_child[0], POLLIN, 0};
    if (poll(&p, 1, 10) == 1) break;
    int status;
    while (waitpid(child, &status, __WALL | WNOHANG) == child)
      if (WIFSTOPPED(status)) ptrace(PTRACE_CONT, child, 0, (void *)(long)WSTOPSIG(status));
  }
  CHECK(read(from_child[0], answer, 4) == 4, "read");
}

/* One round of tracing: seize, follow a fork, check the event's pid, detach both. */
static void trace_round(pid_t child) {
  int32_t answer;
  ask('p', &answer);
  CHECK(answer == 0, "PR_SET_PTRACER with the parent's virtual pid: %s", strerror(answer));
  long r = ptrace(PTRACE_SEIZE, child, 0, (void *)(long)PTRACE_O_TRACEFORK);
  CHECK(r == 0, "PTRACE_SEIZE of virtual pid %d: %s", child, strerror(errno));
  ask('f', NULL);
  int status;
  CHECK(waitpid(child, &status, __WALL) == child, "waitpid: %s", strerror(errno));
  CHECK(status >> 8 == (SIGTRAP | (PTRACE_EVENT_FORK << 8)), "no fork event: %x", status);
  unsigned long msg = 0;
  CHECK(ptrace(PTRACE_GETEVENTMSG, child, 0, &msg) == 0, "GETEVENTMSG: %s", strerror(errno));
  pid_t grandchild = (pid_t)msg;
  /* The grandchild starts traced and stopped: let it go. */
  CHECK(waitpid(grandchild, &status, __WALL) == grandchild,
        "waitpid of the grandchild %d: %s", grandchild, strerror(errno));
  CHECK(ptrace(PTRACE_DETACH, grandchild, 0, 0) == 0, "detach grandchild: %s", strerror(errno));
  CHECK(ptrace(PTRACE_CONT, child, 0, 0) == 0, "cont: %s", strerror(errno));
  int32_t said;
  read_while_tracing(child, &said);
  CHECK(said == grandchild, "the event named %d, the child's fork returned %d", grandchild, said);
  CHECK(said >= 4200000, "the grandchild's pid %d is not virtual", said);
  CHECK(ptrace(PTRACE_INTERRUPT, child, 0, 0) == 0, "interrupt: %s", strerror(errno));
  CHECK(waitpid(child, &status, __WALL) == child, "waitpid: %s", strerror(errno));
  CHECK(ptrace(PTRACE_DETACH, child, 0, 0) == 0, "detach: %s", strerror(errno));
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: tracer DIR");
  CHECK(pipe(to_child) == 0 && pipe(from_child) == 0, "pipe");
  pid_t child = fork();
  if (child == 0) child_loop();
  trace_round(child);
  CHECK(ptrace(PTRACE_SEIZE, child, 0, 0) == 0, "seize: %s", strerror(errno));
  printf("traced\n");
  fflush(stdout);
  char path[4096];
  snprintf(path, sizeof path, "%s/untrace", argv[1]);
  while (access(path, F_OK) != 0) usleep(10000);
  int status;
  CHECK(ptrace(PTRACE_INTERRUPT, child, 0, 0) == 0, "interrupt: %s", strerror(errno));
  CHECK(waitpid(child, &status, __WALL) == child, "waitpid: %s", strerror(errno));
  CHECK(ptrace(PTRACE_DETACH, child, 0, 0) == 0, "detach: %s", strerror(errno));
  say_ready();
  wait_go(argv[1]);
  trace_round(child);
  printf("PASS\n");
  fflush(stdout);
  return 0;
}
