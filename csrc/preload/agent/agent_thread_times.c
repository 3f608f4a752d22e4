/* A thread's user and system time, as its /proc/<pid>/task/<tid>/stat shows them (fields 14
 * and 15, clock ticks), go on across a restore as its CPU clock does (agent_cpu_time.c): each
 * thread notes them at the freeze (its clock alone does not tell them apart) and takes its
 * shifts once restored, found by its TID; proc_cpu_times.c adds them to what the program reads
 * of its own threads. The same in µs, as getrusage(RUSAGE_THREAD) gives them: in ticks, the
 * shift would lose up to a tick, and the times read would go back after a restore. */
#include <string.h>
#include <sys/resource.h>

#include "agent.h"
#include "../wrappers/cpu_clock.h"

static int64_t at_freeze[AMBER_MAX_THREADS][2], ru_at_freeze[AMBER_MAX_THREADS][2];
static struct {
  int32_t tid;
  int64_t shift[2], ru_shift[2];
} shifts[AMBER_MAX_THREADS];

/* The calling thread's user and system time in µs, as getrusage gives them. */
static void kernel_rusage(int64_t out[2]) {
  struct rusage u;
  memset(&u, 0, sizeof u);
  amber_sys2(SYS_getrusage, RUSAGE_THREAD, &u);
  out[0] = (int64_t)u.ru_utime.tv_sec * 1000000 + u.ru_utime.tv_usec;
  out[1] = (int64_t)u.ru_stime.tv_sec * 1000000 + u.ru_stime.tv_usec;
}

/* The calling thread's utime and stime as the kernel counts them; 0 and 0 if unreadable. */
static void kernel_ticks(int64_t out[2]) {
  char text[1024];
  out[0] = out[1] = 0;
  long n = amber_read_file("/proc/thread-self/stat", text, sizeof text);
  const char *p = n > 0 ? strrchr(text, ')') : 0;
  for (int field = 2; p && *p && field < 15;) { /* ')' ends field 2 */
    if (*p++ != ' ') continue;
    if (++field < 14) continue;
    uint64_t v = 0;
    amber_parse_u64(&p, &v, 10);
    out[field - 14] = (int64_t)v;
  }
}

/* The shifts of thread tid, in ticks or (rusage) in µs. */
static int shift_of(int32_t tid, int64_t shift[2], int rusage) {
  for (int k = 0; k < AMBER_MAX_THREADS; k++)
    if (__atomic_load_n(&shifts[k].tid, __ATOMIC_ACQUIRE) == tid) {
      const int64_t *s = rusage ? shifts[k].ru_shift : shifts[k].shift;
      shift[0] = s[0], shift[1] = s[1];
      return 1;
    }
  shift[0] = shift[1] = 0;
  return 0;
}

int amber_thread_times_shift(int32_t tid, int64_t shift[2]) { return shift_of(tid, shift, 0); }
int amber_thread_rusage_shift(int32_t tid, int64_t shift[2]) { return shift_of(tid, shift, 1); }

void amber_thread_times_capture(const struct amber_thread_rec *rec) {
  int64_t now[2], shift[2], ru_now[2], ru_shift[2];
  long i = rec - amber_ckpt.threads;
  kernel_ticks(now);
  kernel_rusage(ru_now);
  amber_thread_times_shift(amber_sys_gettid(), shift); /* from an earlier restore */
  amber_thread_rusage_shift(amber_sys_gettid(), ru_shift);
  for (int j = 0; j < 2; j++) at_freeze[i][j] = now[j] + shift[j];
  for (int j = 0; j < 2; j++) ru_at_freeze[i][j] = ru_now[j] + ru_shift[j];
}

/* In each restored thread, once it has its new TID (rec->tid). */
void amber_thread_times_after_restore(const struct amber_thread_rec *rec) {
  long i = rec - amber_ckpt.threads;
  int64_t now[2], ru_now[2];
  kernel_ticks(now);
  kernel_rusage(ru_now);
  for (int j = 0; j < 2; j++) shifts[i].shift[j] = at_freeze[i][j] - now[j];
  for (int j = 0; j < 2; j++) shifts[i].ru_shift[j] = ru_at_freeze[i][j] - ru_now[j];
  __atomic_store_n(&shifts[i].tid, rec->tid, __ATOMIC_RELEASE);
  if (rec->leader)
    for (int k = amber_ckpt.nthreads; k < AMBER_MAX_THREADS; k++) shifts[k].tid = 0;
}

void amber_thread_times_forget(void) {
  for (int k = 0; k < AMBER_MAX_THREADS; k++) shifts[k].tid = 0;
}
