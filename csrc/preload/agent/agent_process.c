/* The process's state that lives in the kernel, other than descriptors and memory: signal
 * dispositions, interval timers, umask and working directory. */
#include <signal.h>
#include <fcntl.h>
#include <string.h>
#include <linux/prctl.h>
#include <sys/syscall.h>
#include <sys/time.h>

#include "../../common/errno_name.h"
#include "agent.h"

/* Read, not set and put back: a process sharing it (CLONE_FS) may be reading it at once. */
static uint32_t read_umask(void) {
  static char text[4096];
  const char *p = amber_read_file("/proc/self/status", text, sizeof text) > 0 ? strstr(text, "\nUmask:\t") : 0;
  uint64_t mask = 0;
  if (p) {
    p += 8;
    if (!amber_parse_u64(&p, &mask, 8)) return (uint32_t)mask;
  }
  long old = amber_sys1(SYS_umask, 0); /* a kernel before 4.7 */
  amber_sys1(SYS_umask, old);
  return (uint32_t)old;
}

int amber_process_capture(void) {
  for (int sig = 1; sig <= 64; sig++)
    amber_sys4(SYS_rt_sigaction, sig, 0, &amber_ckpt.sigactions[sig], 8);
  for (int which = 0; which < 3; which++)
    amber_sys2(SYS_getitimer, which, amber_ckpt.itimers[which]);
  amber_ckpt.umask = read_umask();
  long n =
      amber_sys4(SYS_readlinkat, AT_FDCWD, "/proc/thread-self/exe", amber_ckpt.exe, sizeof amber_ckpt.exe - 1);
  amber_ckpt.exe[n > 0 && n < (long)sizeof amber_ckpt.exe - 1 ? n : 0] = 0; /* not cut short */
  n = amber_sys2(SYS_getcwd, amber_ckpt.cwd, sizeof amber_ckpt.cwd);
  if (n >= 0) return 0;
  amber_ckpt.cwd[0] = 0;
  if (n == -ERANGE) { /* coming back elsewhere would be a silent loss */
    amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
              "its working directory's path is longer than %d bytes, which Amber cannot save",
              (int)sizeof amber_ckpt.cwd - 1);
    return -1;
  }
  if (n != -ENOENT) return 0;
  /* getcwd fails (ENOENT) for a directory that was deleted: a restore could only put the
   * process somewhere else, so the snapshot says so rather than moving it. */
  char gone[512];
  n = amber_sys4(SYS_readlinkat, AT_FDCWD, "/proc/thread-self/cwd", gone, sizeof gone - 1);
  gone[n > 0 ? n : 0] = 0;
  amber_fmt(amber_ckpt.error, sizeof amber_ckpt.error,
            "its current directory %s was deleted, which Amber cannot save yet", gone);
  return -1;
}

/* /proc/self/exe names the restorer until it is pointed back at the program, which the kernel
 * allows only once the restorer's image is unmapped, and only with CAP_CHECKPOINT_RESTORE
 * (through PR_SET_MM_MAP, which needs the whole layout again: the restorer set it). */
void amber_process_restore_exe(void) {
  if (!amber_ckpt.exe[0]) return;
  int fd = (int)amber_sys3(SYS_openat, AT_FDCWD, amber_ckpt.exe, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  static struct amber_proc_header now;
  amber_mm_fields(&now);
  struct prctl_mm_map map = {
      .start_code = now.start_code, .end_code = now.end_code,
      .start_data = now.start_data, .end_data = now.end_data,
      .start_brk = now.start_brk, .brk = now.brk, .start_stack = now.start_stack,
      .arg_start = now.arg_start, .arg_end = now.arg_end,
      .env_start = now.env_start, .env_end = now.env_end,
      .auxv = (__u64 *)now.auxv, .auxv_size = now.auxv_words * 8, .exe_fd = (__u32)fd,
  };
  long r = amber_sys5(SYS_prctl, PR_SET_MM, PR_SET_MM_MAP, &map, sizeof map, 0);
  amber_sys1(SYS_close, fd);
  if (r < 0) amber_log("/proc/self/exe still names the restorer: prctl failed with %s",
                       amber_errno_name(r));
}

void amber_process_after_restore(void) {
  for (int sig = 1; sig <= 64; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    amber_sys4(SYS_rt_sigaction, sig, &amber_ckpt.sigactions[sig], 0, 8);
  }
  amber_itimers_after_restore();
  amber_sys1(SYS_umask, amber_ckpt.umask);
  if (amber_ckpt.cwd[0]) amber_sys1(SYS_chdir, amber_ckpt.cwd);
  /* The restored process is the row's process now. */
  struct amber_row *row = amber_row_by_vid(amber.table, AMBER_KIND_PID, amber.vpid);
  if (row) __atomic_store_n(&row->sid, amber_sys_getpid(), __ATOMIC_RELEASE);
}
