/* Starting what the supervisor supervises: the program under the interposition library, or
 * the restorer that turns an image back into the application's processes. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/tls_room.h"

#include "supervisor.h"
#include "../common/ckpt_signal.h"

int sup_parse_args(int argc, char **argv, struct sup_options *o) {
  memset(o, 0, sizeof *o);
  if (argc < 3) return -1;
  if (!strcmp(argv[1], "restore")) o->restore = 1;
  else if (strcmp(argv[1], "run")) return -1;
  o->app_dir = argv[2];
  int i = 3;
  if (o->restore) {
    if (argc < 4) return -1;
    o->image_dir = argv[i++];
  }
  for (; i < argc; i++) {
    if (!strcmp(argv[i], "--detach")) o->detach = 1;
    else if (!strcmp(argv[i], "--lazy") && o->restore) o->lazy = 1;
    else if (!strcmp(argv[i], "--as") && o->restore && i + 1 < argc) o->as = argv[++i];
    else if (!strcmp(argv[i], "--output") && i + 1 < argc) o->output = argv[++i];
    else if (!strcmp(argv[i], "--") && !o->restore) {
      o->program = &argv[i + 1];
      break;
    } else return -1;
  }
  return !o->restore && (!o->program || !o->program[0]) ? -1 : 0;
}

pid_t sup_detach(void) { return fork(); }

/* A sibling of this executable in the build directory. */
static void sibling(const char *name, char *out, size_t cap) {
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  self[n > 0 ? n : 0] = 0;
  snprintf(out, cap, "%s/%s", dirname(self), name);
}

static void set_error(struct amber_table *t, const char *msg) {
  snprintf(t->error, sizeof t->error, "%s", msg);
  __atomic_store_n(&t->state, AMBER_APP_FAILED, __ATOMIC_RELEASE);
}

/* Forks; the child runs exec_child and reports a failure through a close-on-exec pipe, so the
 * parent knows whether the exec happened. Returns the child's pid or -1. */
static pid_t fork_exec(struct amber_table *t, void (*exec_child)(const struct sup_options *),
                       const struct sup_options *o, const char *what) {
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC)) return -1;
  pid_t pid = fork();
  if (pid < 0) {
    set_error(t, "cannot fork");
    return -1;
  }
  if (pid == 0) {
    close(pipefd[0]);
    setpgid(0, 0);
    /* Held off across the exec until the program's library has its handler (init.c lets it
     * through): a snapshot that lands while the program is still being loaded waits for it,
     * instead of finding a process the signal would end. */
    sigset_t ckpt;
    sigemptyset(&ckpt);
    sigaddset(&ckpt, AMBER_CKPT_SIGNAL);
    sigprocmask(SIG_BLOCK, &ckpt, NULL);
    /* The program starts with its standard streams only, whatever Amber's own command held. */
    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    exec_child(o);
    int err = errno;
    if (write(pipefd[1], &err, sizeof err) < 0) {}
    _exit(127);
  }
  close(pipefd[1]);
  int err = 0;
  ssize_t n = read(pipefd[0], &err, sizeof err);
  close(pipefd[0]);
  if (n == sizeof err) {
    char msg[300];
    snprintf(msg, sizeof msg, "cannot start %s: %s", what, strerror(err));
    set_error(t, msg);
    return -1;
  }
  return pid;
}

/* NAME=ours, before what the program's environment had in the list. */
static void put_first(const char *name, const char *ours) {
  const char *old = getenv(name);
  char value[8400];
  if (old && *old) snprintf(value, sizeof value, "%s:%s", ours, old);
  else snprintf(value, sizeof value, "%s", ours);
  setenv(name, value, 1);
}

static void exec_program(const struct sup_options *o) {
  char lib[4200], audit[4200];
  sibling("libamber.so", lib, sizeof lib);
  sibling("libamber-audit.so", audit, sizeof audit);
  put_first("LD_PRELOAD", lib);
  /* The audit library: the early SIGSYS handler and the libraries below the line (csrc/audit/),
   * and the static TLS room Amber's library needs beside it. */
  put_first("LD_AUDIT", audit);
  put_first("GLIBC_TUNABLES", AMBER_TLS_TUNABLE);
  setenv("AMBER_LIB", lib, 1);
  setenv("AMBER_APP_DIR", o->app_dir, 1);
  unsetenv("AMBER_TABLE_FD"); /* another application's, if Amber was started from one */
  execvp(o->program[0], o->program);
}

pid_t sup_start_program(struct amber_table *t, const struct sup_options *o) {
  pid_t pid = fork_exec(t, exec_program, o, o->program[0]);
  if (pid < 0) return -1;
  /* The program leads its own process group (fork_exec's setpgid). */
  struct amber_row *row = amber_pid_row_adopt(t, pid, getpid(), AMBER_PID_PROCESS);
  if (row) __atomic_or_fetch(&row->flags, AMBER_PID_LEADER, __ATOMIC_ACQ_REL);
  t->root_vpid = row ? row->vid : -1;
  __atomic_store_n(&t->state, AMBER_APP_RUNNING, __ATOMIC_RELEASE);
  return pid;
}

static int32_t restore_root; /* virtual pid of the process the restorer rebuilds */

static void exec_restorer(const struct sup_options *o) {
  char restorer[4200], root[32], tables[4200];
  sibling("amber-restorer", restorer, sizeof restorer);
  snprintf(root, sizeof root, "%d", restore_root);
  snprintf(tables, sizeof tables, "%s/tables", o->app_dir);
  char *argv[8] = {restorer, (char *)o->image_dir, tables, root}, **more = argv + 4;
  if (o->lazy) *more++ = "--lazy";
  if (o->as) *more++ = "--as", *more++ = (char *)o->as;
  *more = NULL;
  char *envp[] = {NULL};
  execve(restorer, argv, envp);
}

pid_t sup_start_restorer(struct amber_table *t, const struct sup_options *o) {
  restore_root = t->root_vpid;
  struct amber_row *row = amber_row_by_vid(t, AMBER_KIND_PID, restore_root);
  if (!row) {
    set_error(t, "the image's tables do not hold its root process");
    return -1;
  }
  int err = sup_broker_start(o->app_dir, (int)t->ctl.nslots);
  if (err) {
    set_error(t, "cannot start the descriptor broker");
    return -1;
  }
  pid_t pid = fork_exec(t, exec_restorer, o, "the restorer");
  if (pid < 0) return -1;
  __atomic_store_n(&row->sid, pid, __ATOMIC_RELEASE);
  __atomic_store_n(&t->state, AMBER_APP_RUNNING, __ATOMIC_RELEASE);
  return pid;
}
