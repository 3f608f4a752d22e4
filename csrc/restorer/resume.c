/* The last steps: the kernel's record of the memory layout, then one thread per saved thread,
 * each resuming where it saved its registers inside the agent. */
#include <asm/prctl.h>
#include <fcntl.h>
#include <linux/prctl.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>

#include "restorer.h"

#define THREAD_STACK 16384

static char thread_stacks[MAX_THREADS][THREAD_STACK] __attribute__((aligned(16)));

void restorer_resume(const struct amber_ctx *ctx) __attribute__((noreturn));
long restorer_spawn_thread(long flags, void *stack, uint64_t tls, const struct amber_ctx *ctx);

/* The kernel's record of the layout: brk for malloc, arguments and environment for /proc. */
void set_mm_layout(void) {
  struct prctl_mm_map map = {
      .start_code = hdr.start_code, .end_code = hdr.end_code,
      .start_data = hdr.start_data, .end_data = hdr.end_data,
      .start_brk = hdr.start_brk, .brk = hdr.brk,
      .start_stack = hdr.start_stack,
      .arg_start = hdr.arg_start, .arg_end = hdr.arg_end,
      .env_start = hdr.env_start, .env_end = hdr.env_end,
      .auxv = (__u64 *)hdr.auxv, .auxv_size = hdr.auxv_words * 8,
      .exe_fd = (uint32_t)-1,
  };
  long r = amber_sys5(SYS_prctl, PR_SET_MM, PR_SET_MM_MAP, &map, sizeof map, 0);
  if (r < 0) die("the kernel refused the memory layout (prctl PR_SET_MM_MAP)", r);
  amber_sys2(SYS_prctl, PR_SET_NAME, hdr.comm);
}

void start_threads(void) {
  struct amber_restore_args *args = (struct amber_restore_args *)hdr.restore_args_addr;
  args->restored++;
  args->restorer_start = (uint64_t)__executable_start & ~4095ULL;
  args->restorer_end = restorer_end;
  rt_copy(args->app_dir, tables_path, sizeof args->app_dir);
  for (int i = (int)strlen(args->app_dir) - 1; i > 0 && args->app_dir[i] != '/'; i--)
    args->app_dir[i] = 0;
  if (strlen(args->app_dir) > 1) args->app_dir[strlen(args->app_dir) - 1] = 0;
  args->nprocesses = tree_size();
  args->tables_fd = tables_fd;
  args->broker_fd = broker_fd;
  uint64_t all = ~0ULL;
  amber_sys4(SYS_rt_sigprocmask, 0 /* SIG_BLOCK */, &all, 0, 8);
  const long flags = 0x00000100 | 0x00000200 | 0x00000400 | 0x00000800 | 0x00010000 |
                     0x00040000 | 0x00080000; /* VM FS FILES SIGHAND THREAD SYSVSEM SETTLS */
  /* This thread is the process's first, whose system tid is its pid: it becomes the main thread
   * again (its virtual tid is the virtual pid), so that a tid translated for it names it, and
   * not the thread that happened to lead the snapshot (Go's sysmon sent the main thread's
   * preemption signal to that one, and a goroutine that never yields then held its P for ever). */
  const struct amber_thread_rec *first = &threads[0];
  for (int i = 0; i < hdr.nthreads; i++)
    if (threads[i].leader) first = &threads[i];
  for (int i = 0; i < hdr.nthreads; i++)
    if (threads[i].vtid == hdr.vpid) first = &threads[i];
  /* A main thread that had exited exits again, once it has started every saved thread. */
  args->main_tid = hdr.main_thread_gone ? (int32_t)amber_sys0(SYS_gettid) : 0;
  if (hdr.main_thread_gone) amber_sys1(SYS_set_tid_address, &args->main_tid);
  for (int i = 0; i < hdr.nthreads; i++) {
    if (&threads[i] == first && !hdr.main_thread_gone) continue;
    long r = restorer_spawn_thread(flags, thread_stacks[i] + THREAD_STACK, threads[i].fs_base,
                                   &threads[i].ctx);
    if (r < 0) die("cannot start a thread", r);
  }
  if (hdr.main_thread_gone) amber_sys1(SYS_exit, 0);
  amber_sys2(SYS_arch_prctl, ARCH_SET_FS, first->fs_base);
  restorer_resume(&first->ctx);
}
