/* Virtual process and thread IDs. A process takes its virtual pid when the library starts in
 * it (or, after fork, in the child); a parent that learns a child's system pid adopts the same
 * row, since both look it up by system pid under the table lock. Threads take a virtual TID
 * the first time they ask for one, and give it back when they exit. */
#include <pthread.h>
#include <stdint.h>

#include "amber.h"
#include "../wrappers/cpu_clock.h"
#include "../wrappers/sysv.h"
#include "../kernel/raw_threads.h"

int32_t amber_pid_adopt(int32_t sys_pid, int32_t sys_parent, int flags) {
  amber_enter();
  struct amber_row *row = amber_pid_row_adopt(amber.table, sys_pid, sys_parent, flags);
  amber_leave();
  return row ? row->vid : -1;
}

void amber_pid_release(int32_t sys_pid) {
  struct amber_table *t = amber.table;
  amber_enter();
  amber_table_lock(t);
  struct amber_row *row = amber_row_by_sid(t, AMBER_KIND_PID, sys_pid);
  if (row && (row->flags & AMBER_PID_PROCESS)) amber_pid_row_release(t, row);
  amber_table_unlock(t);
  amber_leave();
}

int32_t amber_pid_v2s(int32_t vpid) { return amber_v2s(amber.table, AMBER_KIND_PID, vpid); }
int32_t amber_pid_s2v(int32_t spid) { return amber_s2v(amber.table, AMBER_KIND_PID, spid); }

static pthread_key_t thread_exit_key;
static pthread_once_t thread_exit_once = PTHREAD_ONCE_INIT;

static void thread_exited(void *value) {
  int32_t vtid = (int32_t)(intptr_t)value;
  struct amber_table *t = amber.table;
  if (!t) return;
  amber_enter();
  amber_table_lock(t);
  struct amber_row *row = amber_row_by_vid(t, AMBER_KIND_PID, vtid);
  if (row && (row->flags & AMBER_PID_THREAD)) amber_row_free(row);
  amber_table_unlock(t);
  amber_leave();
}

static void make_thread_exit_key(void) { pthread_key_create(&thread_exit_key, thread_exited); }

int32_t amber_self_vtid(void) {
  if (amber_vtid) return amber_vtid;
  int32_t tid = amber_sys_gettid();
  if (tid == amber_sys_getpid()) return amber_vtid = amber.vpid;
  struct amber_table *t = amber.table;
  amber_enter();
  amber_table_lock(t);
  struct amber_row *row = amber_row_alloc(t, AMBER_KIND_PID);
  if (row) {
    row->flags = AMBER_PID_THREAD;
    row->owner = amber.vpid;
    row->parent = amber.vpid;
    __atomic_store_n(&row->sid, tid, __ATOMIC_RELEASE);
    amber_vtid = row->vid;
  }
  amber_table_unlock(t);
  amber_leave();
  if (!row) return -1;
  pthread_once(&thread_exit_once, make_thread_exit_key);
  pthread_setspecific(thread_exit_key, (void *)(intptr_t)amber_vtid);
  return amber_vtid;
}

void amber_after_fork_child(void) {
  amber_ckpt_forget(); /* nor a checkpoint its parent was in */
  amber_sysv_undo_forget(); /* the kernel gives a child no SEM_UNDO adjustments */
  amber_cpu_time_forget(); /* nor the CPU time its parent had */
  amber_cpu_timers_forget(); /* nor its POSIX timers */
  amber_raw_threads_forget(); /* nor its threads */
  amber_dnotify_forget(); /* nor its directory notifications (the kernel's are per file table) */
  amber_vtid = 0;
  amber.vpid = amber_pid_adopt(amber_sys_getpid(), amber_sys_getppid(), AMBER_PID_PROCESS);
  amber_vtid = amber.vpid;
}
