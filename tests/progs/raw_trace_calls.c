/* ptrace, prctl(PR_SET_PTRACER) and fanotify made three ways: through libc, through syscall()
 * and with the `syscall` instruction itself (which only Amber's seccomp layer sees). Each names
 * the traced process by its virtual pid and acts on it (PEEKDATA reads its word), learns a fork
 * event's new child by its virtual pid (PTRACE_GETEVENTMSG), and reads a fanotify event's pid
 * virtual, before a snapshot and after the restore (new system pids). Nothing is traced and no
 * fanotify group is open while the snapshot is taken (Amber refuses both).
 * Usage: raw_trace_calls <dir> */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "raw_call.h"
#include "wait_go.h"

enum { LIBC, SYSCALL, RAW, WAYS };
static const char *way_name[WAYS] = {"libc", "syscall()", "raw"};

static long neg(long r) { return r == -1 ? -errno : r; }

/* The call, made `way`, as the raw call means it (a PEEK writes the word to *d); -errno. */
static long call(int way, long n, long a, long b, long c, long d) {
  if (way == RAW) return raw_call(n, a, b, c, d);
  if (way == SYSCALL) return neg(syscall(n, a, b, c, d));
  switch (n) {
  case SYS_ptrace:
    if (a == PTRACE_PEEKDATA) {
      errno = 0;
      long word = ptrace(PTRACE_PEEKDATA, (pid_t)b, (void *)c, 0);
      if (errno) return -errno;
      *(long *)d = word;
      return 0;
    }
    return neg(ptrace((enum __ptrace_request)a, (pid_t)b, (void *)c, (void *)d));
  case SYS_prctl: return neg(prctl((int)a, b, c, d, 0));
  case SYS_fanotify_init: return neg(fanotify_init((unsigned)a, (unsigned)b));
  case SYS_read: return neg(read((int)a, (void *)b, (size_t)c));
  }
  return -ENOSYS;
}

static volatile long marker = 0x616d626572;
static int go_pipe[2], news_pipe[2];

/* The traced child: on a byte, forks a child of its own (which waits), tells its pid. */
static void traced_child(void) {
  char c;
  if (read(go_pipe[0], &c, 1) != 1) _exit(1);
  pid_t g = fork();
  if (g == 0)
    for (;;) pause();
  if (write(news_pipe[1], &g, sizeof g) != sizeof g) _exit(1);
  for (;;) pause();
}

static void trace(int way, const char *phase) {
  const char *w = way_name[way];
  CHECK(pipe(go_pipe) == 0 && pipe(news_pipe) == 0, "pipes");
  pid_t c = fork();
  if (c == 0) traced_child();
  CHECK(call(way, SYS_ptrace, PTRACE_SEIZE, c, 0, PTRACE_O_TRACEFORK) == 0, "%s %s: SEIZE %ld",
        phase, w, call(way, SYS_ptrace, PTRACE_SEIZE, c, 0, PTRACE_O_TRACEFORK));
  CHECK(call(way, SYS_ptrace, PTRACE_SEIZE, c + 7777, 0, 0) == -ESRCH,
        "%s %s: an unknown virtual pid", phase, w);
  CHECK(write(go_pipe[1], "g", 1) == 1, "go");
  int status;
  CHECK(waitpid(c, &status, __WALL) == c && WIFSTOPPED(status) &&
            status >> 8 == (SIGTRAP | (PTRACE_EVENT_FORK << 8)),
        "%s %s: no fork event (status %#x)", phase, w, status);
  long word = 0;
  CHECK(call(way, SYS_ptrace, PTRACE_PEEKDATA, c, (long)&marker, (long)&word) == 0 &&
            word == marker,
        "%s %s: PEEKDATA read %#lx", phase, w, word);
  unsigned long msg = 0;
  CHECK(call(way, SYS_ptrace, PTRACE_GETEVENTMSG, c, 0, (long)&msg) == 0, "%s %s: GETEVENTMSG",
        phase, w);
  CHECK(call(way, SYS_ptrace, PTRACE_CONT, c, 0, 0) == 0, "%s %s: CONT", phase, w);
  pid_t g = 0;
  CHECK(read(news_pipe[0], &g, sizeof g) == sizeof g, "%s %s: the child's news", phase, w);
  CHECK((pid_t)msg == g && g >= 4200000, "%s %s: GETEVENTMSG says %lu, the child forked %d",
        phase, w, msg, g);
  /* the new child is traced too (PTRACE_O_TRACEFORK): let both go before the snapshot */
  CHECK(waitpid(g, &status, __WALL) == g && WIFSTOPPED(status), "%s %s: the new child's stop",
        phase, w);
  CHECK(call(way, SYS_ptrace, PTRACE_DETACH, g, 0, 0) == 0, "%s %s: DETACH the new child", phase,
        w);
  CHECK(call(way, SYS_ptrace, PTRACE_INTERRUPT, c, 0, 0) == 0 &&
            waitpid(c, &status, __WALL) == c && WIFSTOPPED(status),
        "%s %s: INTERRUPT", phase, w);
  CHECK(call(way, SYS_ptrace, PTRACE_DETACH, c, 0, 0) == 0, "%s %s: DETACH", phase, w);
  kill(g, SIGKILL);
  kill(c, SIGKILL);
  CHECK(waitpid(c, NULL, 0) == c, "%s %s: reap", phase, w);
  for (int i = 0; i < 2; i++) close(go_pipe[i]), close(news_pipe[i]);
}

/* PR_SET_PTRACER names a process: a known one is the kernel's business (with Yama; without it
 * every pid gets EINVAL), an unknown virtual one is EINVAL without reaching the kernel. */
static void ptracer(int way, const char *phase, int yama) {
  const char *w = way_name[way];
  pid_t parent = getppid();
  if (yama) {
    CHECK(call(way, SYS_prctl, PR_SET_PTRACER, parent, 0, 0) == 0, "%s %s: PR_SET_PTRACER %ld",
          phase, w, call(way, SYS_prctl, PR_SET_PTRACER, parent, 0, 0));
    CHECK(call(way, SYS_prctl, PR_SET_PTRACER, 0, 0, 0) == 0, "%s %s: cleared", phase, w);
  }
  CHECK(call(way, SYS_prctl, PR_SET_PTRACER, parent + 7777, 0, 0) == -EINVAL,
        "%s %s: PR_SET_PTRACER of an unknown virtual pid", phase, w);
  char name[16] = {0};
  CHECK(call(way, SYS_prctl, PR_GET_NAME, (long)name, 0, 0) == 0 && name[0],
        "%s %s: another prctl", phase, w);
}

/* A child opens `path`; the group's event names it by its virtual pid. */
static void fanotify(int way, const char *phase, const char *path) {
  const char *w = way_name[way];
  long fd = call(way, SYS_fanotify_init, FAN_CLASS_NOTIF | FAN_CLOEXEC, O_RDONLY, 0, 0);
  CHECK(fd >= 0, "%s %s: fanotify_init %ld", phase, w, fd);
  CHECK(fanotify_mark((int)fd, FAN_MARK_ADD, FAN_OPEN, AT_FDCWD, path) == 0, "%s %s: mark",
        phase, w);
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  pid_t c = fork();
  if (c == 0) {
    int f = open(path, O_RDONLY);
    char ok = f >= 0 ? 'y' : 'n';
    if (write(p[1], &ok, 1) != 1) _exit(1);
    for (;;) pause(); /* alive while its pid is read: a reaped one's reads 0 */
  }
  char ok = 0;
  CHECK(read(p[0], &ok, 1) == 1 && ok == 'y', "%s %s: the child's open", phase, w);
  char buf[4096] __attribute__((aligned(8)));
  long n = call(way, SYS_read, fd, (long)buf, sizeof buf, 0);
  CHECK(n >= (long)sizeof(struct fanotify_event_metadata), "%s %s: read %ld", phase, w, n);
  int found = 0;
  for (struct fanotify_event_metadata *m = (void *)buf; FAN_EVENT_OK(m, n);
       m = FAN_EVENT_NEXT(m, n)) {
    if (m->fd >= 0) close(m->fd);
    CHECK(m->pid == c, "%s %s: the event's pid is %d, not the child's %d", phase, w, m->pid, c);
    found++;
  }
  CHECK(found >= 1, "%s %s: no event", phase, w);
  kill(c, SIGKILL);
  waitpid(c, NULL, 0);
  close(p[0]);
  close(p[1]);
  close((int)fd);
}

static void checks(const char *phase, const char *path, int yama) {
  for (int way = 0; way < WAYS; way++) {
    trace(way, phase);
    ptracer(way, phase, yama);
    fanotify(way, phase, path);
  }
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  setvbuf(stdout, NULL, _IOLBF, 0);
  char path[4096];
  snprintf(path, sizeof path, "%s/watched", argv[1]);
  int f = open(path, O_CREAT | O_WRONLY, 0600);
  CHECK(f >= 0, "create %s", path);
  close(f);
  int yama = access("/proc/sys/kernel/yama/ptrace_scope", F_OK) == 0;
  if (!yama) printf("no Yama: PR_SET_PTRACER of a known pid is EINVAL, not checked\n");
  checks("before", path, yama);
  say_ready();
  wait_go(argv[1]);
  checks("after", path, yama);
  printf("PASS\n");
  return 0;
}
