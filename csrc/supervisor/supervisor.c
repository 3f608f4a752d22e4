/* amber-supervisor: one per application. It is the subreaper of the application's process
 * tree (as podman's conmon is for a container): it starts the program (or the restorer), reaps
 * every process that ends, even orphans, frees their rows, and exits with the status of the
 * program once no process of the application is left, removing the runtime directory.
 *
 *   amber-supervisor run <appdir> [--detach] [--output FILE] -- PROGRAM ARGS...
 *   amber-supervisor restore <appdir> <imagedir> [--detach] [--output FILE] [--lazy]
 *                    [--as UID:GID:GROUPS]   (the image owner's: no process gets more)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/members.h"
#include "../common/table.h"
#include "supervisor.h"

static struct amber_table *table;
static pid_t root_pid = -1;
static int root_wait_status; /* as waitpid gave it */

static void set_failed(const char *fmt, const char *what, int err) {
  snprintf(table->error, sizeof table->error, fmt, what, strerror(err));
  __atomic_store_n(&table->state, AMBER_APP_FAILED, __ATOMIC_RELEASE);
}

static void forward_signal(int sig) {
  if (root_pid > 0) kill(-root_pid, sig);
}

/* The supervisor's row says `pid`: the daemon's, written by the caller's side of a detach
 * too, before it exits, so that whoever waits on that exit never finds the row of the
 * supervisor a restored image had (long dead) meanwhile. */
static void register_supervisor(pid_t pid) {
  amber_table_lock(table);
  struct amber_row *row = NULL;
  for (uint32_t i = 0; i < table->high[AMBER_KIND_PID] && !row; i++)
    if (table->rows[AMBER_KIND_PID][i].state == AMBER_ROW_LIVE &&
        (table->rows[AMBER_KIND_PID][i].flags & AMBER_PID_SUPERVISOR))
      row = &table->rows[AMBER_KIND_PID][i];
  if (!row) row = amber_row_alloc(table, AMBER_KIND_PID); /* a new application: the first row */
  row->flags = AMBER_PID_SUPERVISOR;
  row->owner = row->vid;
  row->parent = -1;
  __atomic_store_n(&row->sid, pid, __ATOMIC_RELEASE);
  amber_table_unlock(table);
}

/* Who the supervisor is, where the application's processes cannot write it: what the control
 * side checks a pid from the tables against (common/members.h). */
static void write_identity(const char *dir) {
  char path[4200], text[64];
  snprintf(path, sizeof path, "%s/%s", dir, AMBER_SUPERVISOR_FILE);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return; /* then the control side signals none of its processes */
  int n = snprintf(text, sizeof text, "%d %lld\n", getpid(), amber_proc_start_time(getpid()));
  if (write(fd, text, n) != n) unlink(path);
  close(fd);
}

/* The program's standard streams, as the program will get them; restore reattaches them. */
static int setup_stdio(const struct sup_options *o) {
  if (o->detach) {
    int null = open("/dev/null", O_RDWR);
    if (null < 0) return -errno;
    dup2(null, 0);
    if (!o->output) dup2(null, 1), dup2(null, 2);
    if (null > 2) close(null);
  }
  if (o->output) {
    int fd = open(o->output, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd < 0) return -errno;
    dup2(fd, 1);
    dup2(fd, 2);
    if (fd > 2) close(fd);
  }
  for (int i = 0; i < 3; i++) {
    struct stat st;
    if (fstat(i, &st) == 0) {
      table->std_dev[i] = (int32_t)st.st_dev;
      table->std_ino[i] = (int64_t)st.st_ino;
    }
  }
  return 0;
}

/* SysV objects outlive processes: once the application is gone, so are they (an image that
 * needed them has saved their contents). */
static void remove_ipc_objects(void) {
  for (int kind = AMBER_KIND_SEM; kind <= AMBER_KIND_MSG; kind++)
    for (uint32_t i = 0; i < table->high[kind]; i++) {
      struct amber_row *r = &table->rows[kind][i];
      if (r->state != AMBER_ROW_LIVE || r->sid < 0) continue;
      if (kind == AMBER_KIND_SEM) semctl(r->sid, 0, IPC_RMID);
      else if (kind == AMBER_KIND_SHM) shmctl(r->sid, IPC_RMID, NULL);
      else msgctl(r->sid, IPC_RMID, NULL);
      amber_row_free(r);
    }
}

static void remove_app_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (d) {
    struct dirent *e;
    while ((e = readdir(d)))
      if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
  }
  rmdir(dir);
}

/* Rows of processes and threads that are gone without the application's reaping them (libc's
 * own waits, as in system(), go around the wrappers) are given back, so that a system pid
 * reused later does not find an old virtual pid. A zombie still exists: its parent's wait
 * translates it. */
static void collect_stale_rows(void) {
  amber_table_lock(table);
  for (uint32_t i = 0; i < table->high[AMBER_KIND_PID]; i++) {
    struct amber_row *r = &table->rows[AMBER_KIND_PID][i];
    if (r->state != AMBER_ROW_LIVE || !(r->flags & (AMBER_PID_PROCESS | AMBER_PID_THREAD))) continue;
    if (r->sid > 0 && kill(r->sid, 0) < 0 && errno == ESRCH) {
      if (r->flags & AMBER_PID_PROCESS) amber_pid_row_release(table, r);
      else amber_row_free(r);
    }
  }
  amber_table_unlock(table);
}

/* Reaps until no process of the application is left; returns the root's status. */
static int reap_all(int restoring) {
  int root_status = 0;
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  for (;;) {
    int status;
    if (restoring) sup_restore_gone(table, root_pid);
    pid_t pid = waitpid(-1, &status, __WALL | WNOHANG);
    if (pid < 0 && errno == EINTR) continue;
    if (pid < 0) break; /* ECHILD: nothing left */
    if (pid == 0) {
      if (sup_only_writers_left(table)) break; /* the application has ended */
      /* Nothing to reap: wait for a child's end, tidying the rows once a second meanwhile. */
      struct timespec second = {1, 0};
      if (sigtimedwait(&chld, NULL, &second) < 0 && errno == EAGAIN) collect_stale_rows();
      continue;
    }
    if (pid == root_pid) root_status = root_wait_status = status;
    amber_table_lock(table);
    struct amber_row *row = amber_row_by_sid(table, AMBER_KIND_PID, pid);
    if (row && (row->flags & AMBER_PID_PROCESS)) amber_pid_row_release(table, row);
    amber_table_unlock(table);
  }
  if (WIFSIGNALED(root_status)) return 128 + WTERMSIG(root_status);
  return WEXITSTATUS(root_status);
}

int main(int argc, char **argv) {
  struct sup_options o;
  if (sup_parse_args(argc, argv, &o)) {
    fprintf(stderr, "usage: amber-supervisor run|restore <appdir> ... (see the source)\n");
    return 2;
  }
  char path[4200];
  int err = snprintf(path, sizeof path, "%s/tables", o.app_dir) >= (int)sizeof path
                ? -ENAMETOOLONG /* never a shorter, other path */
                : amber_table_open(path, &table);
  if (err) {
    fprintf(stderr, "amber-supervisor: cannot open %s: %s\n", path, strerror(-err));
    return 1;
  }
  if (o.detach) {
    pid_t daemon = sup_detach();
    if (daemon < 0) {
      fprintf(stderr, "amber-supervisor: cannot detach: %s\n", strerror(errno));
      return 1;
    }
    if (daemon > 0) { /* the caller's side of the fork */
      register_supervisor(daemon);
      return 0;
    }
  }
  setsid();
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  signal(SIGINT, forward_signal);
  signal(SIGTERM, forward_signal);
  signal(SIGHUP, forward_signal);
  register_supervisor(getpid());
  write_identity(o.app_dir);
  if (sup_lease_fence_listen())
    fprintf(stderr, "amber-supervisor: cannot listen for lease renewals: %s\n", strerror(errno));
  if ((err = setup_stdio(&o))) {
    set_failed("cannot open the output file %s: %s", o.output ? o.output : "", -err);
    remove_app_dir(o.app_dir);
    return 1;
  }

  root_pid = o.restore ? sup_start_restorer(table, &o) : sup_start_program(table, &o);
  if (root_pid < 0) {
    int status = 127;
    while (wait(NULL) > 0) {}
    remove_app_dir(o.app_dir);
    return status;
  }
  if (o.restore && o.lazy) sup_lazy_check_start(table, o.image_dir);
  sup_lease_fence_start(table, o.app_dir);
  int status = reap_all(o.restore);
  remove_ipc_objects();
  __atomic_store_n(&table->state, AMBER_APP_EXITED, __ATOMIC_RELEASE);
  if (o.detach) sup_write_exit_record(o.app_dir, root_wait_status, sup_lazy_damage());
  remove_app_dir(o.app_dir);
  return status;
}
