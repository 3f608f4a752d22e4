/* `amber check`: which kernel features Amber relies on this computer has, each found by
 * trying it, not by reading version numbers. Probes that would change the calling process for
 * good (a seccomp filter, clearing soft-dirty bits) run in a child made with a raw clone that
 * sends no SIGCHLD (Deno's own child reaping never sees it), which only makes system calls and
 * reports by its exit status; the parent reaps it with __WALL. */
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/dirty_track.h"
#include "../common/pagemap_scan.h"
#include "control.h"
#include "json.h"

#define API __attribute__((visibility("default")))

#define UFFD_USER_MODE_ONLY 1
#define USERFAULTFD_IOC_NEW 0xaa00 /* _IO(0xAA, 0x00) on /dev/userfaultfd */
#define PM_SOFT_DIRTY (1ULL << 55)

/* Runs probe in a child process; its result (0 or a positive errno), or the clone's errno. */
static int in_child(int (*probe)(void)) {
  long pid = syscall(SYS_clone, 0L /* no exit signal */, 0L, 0L, 0L, 0L);
  if (pid < 0) return errno;
  if (pid == 0) syscall(SYS_exit_group, probe());
  int status = 0;
  while (waitpid((pid_t)pid, &status, __WALL) < 0 && errno == EINTR) {}
  return WIFEXITED(status) ? WEXITSTATUS(status) : EIO;
}

static int sys_errno(long r) { return r < 0 ? (int)-r : 0; }

static long raw(long nr, long a, long b, long c) {
  long r = syscall(nr, a, b, c);
  return r < 0 ? -errno : r;
}

/* A filter that lets everything through, installed for real. */
static int seccomp_filter_child(void) {
  struct sock_filter allow[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
  struct sock_fprog prog = {1, allow};
  if (raw(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0) < 0) return errno;
  return sys_errno(raw(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, (long)&prog));
}

/* A filter that hands one system call nobody here makes to a listener: the listener's fd. */
static int seccomp_notify_child(void) {
  struct sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {4, f};
  if (raw(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0) < 0) return errno;
  long fd = raw(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, (long)&prog);
  return sys_errno(fd);
}

/* The pagemap entry of the page at addr, read through fd; 0 if it cannot be read. */
static uint64_t pagemap_entry(int fd, void *addr) {
  uint64_t e = 0;
  long off = (long)((uintptr_t)addr / 4096 * 8);
  return syscall(SYS_pread64, fd, &e, sizeof e, off) == sizeof e ? e : 0;
}

/* Soft-dirty: clearing the bits, then writing a page, sets its bit again. */
static int soft_dirty_child(void) {
  char *page = (char *)syscall(SYS_mmap, 0L, 4096L, (long)(PROT_READ | PROT_WRITE),
                               (long)(MAP_PRIVATE | MAP_ANONYMOUS), -1L, 0L);
  if (page == MAP_FAILED) return errno;
  page[0] = 1;
  long refs = raw(SYS_openat, AT_FDCWD, (long)"/proc/self/clear_refs", O_WRONLY);
  long map = raw(SYS_openat, AT_FDCWD, (long)"/proc/self/pagemap", O_RDONLY);
  if (refs < 0 || map < 0) return sys_errno(refs < 0 ? refs : map);
  if (raw(SYS_write, refs, (long)"4", 1) < 0) return errno;
  if (pagemap_entry((int)map, page) & PM_SOFT_DIRTY) return EOPNOTSUPP; /* not cleared */
  page[0] = 2;
  return pagemap_entry((int)map, page) & PM_SOFT_DIRTY ? 0 : EOPNOTSUPP;
}

static __attribute__((noreturn)) void idle_child(void) {
  for (;;) syscall(SYS_pause);
}

/* Seizing a child with ptrace, as the coordinator seizes a thread that blocks every signal. */
static int ptrace_probe(void) {
  long pid = syscall(SYS_clone, 0L, 0L, 0L, 0L, 0L);
  if (pid < 0) return errno;
  if (pid == 0) idle_child();
  int err = ptrace(PTRACE_SEIZE, (pid_t)pid, 0, 0) ? errno : 0;
  kill((pid_t)pid, SIGKILL);
  int status;
  while (waitpid((pid_t)pid, &status, __WALL) < 0 && errno == EINTR) {}
  return err;
}

static int pagemap_scan_probe(void) {
  int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  static char page[4096] __attribute__((aligned(4096)));
  page[0] = 1;
  struct pm_page_region vec[1];
  struct pm_scan_arg a = pm_data_scan((uintptr_t)page, (uintptr_t)page + sizeof page, vec, 1);
  int err = ioctl(fd, PAGEMAP_SCAN, &a) < 0 ? errno : 0;
  close(fd);
  return err;
}

/* Dirty-page tracking as the agent does it (agent_track.c): a page registered in async
 * write-protect mode, protected, written, and reported written by PAGEMAP_SCAN. */
static int dirty_track_child(void) {
  long fd = raw(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY, 0, 0);
  if (fd < 0) fd = raw(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK, 0, 0);
  if (fd < 0) return (int)-fd;
  struct amber_uffdio_api api = {
      AMBER_UFFD_API, AMBER_UFFD_FEATURE_WP_ASYNC | AMBER_UFFD_FEATURE_WP_UNPOPULATED, 0};
  if (ioctl((int)fd, AMBER_UFFDIO_API, &api)) return errno;
  char *page = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) return errno;
  page[0] = 1;
  struct amber_uffdio_register reg = {(uintptr_t)page, 4096, AMBER_UFFDIO_REGISTER_MODE_WP, 0};
  if (ioctl((int)fd, AMBER_UFFDIO_REGISTER, &reg)) return errno;
  int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (pm < 0) return errno;
  struct pm_scan_arg arm = pm_written_scan((uintptr_t)page, (uintptr_t)page + 4096, 0, 0);
  if (ioctl(pm, PAGEMAP_SCAN, &arm) < 0) return errno;
  struct pm_page_region vec[1];
  struct pm_scan_arg quiet = pm_written_scan((uintptr_t)page, (uintptr_t)page + 4096, vec, 1);
  if (ioctl(pm, PAGEMAP_SCAN, &quiet) != 0) return EIO; /* nothing written since */
  page[1] = 2;
  struct pm_scan_arg scan = pm_written_scan((uintptr_t)page, (uintptr_t)page + 4096, vec, 1);
  long n = ioctl(pm, PAGEMAP_SCAN, &scan);
  if (n < 0) return errno;
  return n == 1 ? 0 : EIO;
}

static int pagemap_read_probe(void) {
  int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  static char page[4096] __attribute__((aligned(4096)));
  page[0] = 1;
  uint64_t e = pagemap_entry(fd, page);
  close(fd);
  return e & (1ULL << 63) ? 0 : EIO; /* the page is present: its bit must say so */
}

static int userfaultfd_probe(void) {
  long fd = raw(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY, 0, 0);
  if (fd < 0) fd = raw(SYS_userfaultfd, O_CLOEXEC, 0, 0);
  if (fd >= 0) close((int)fd);
  return sys_errno(fd);
}

static int userfaultfd_dev_probe(void) {
  int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
  if (dev < 0) return errno;
  int fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC);
  int err = fd < 0 ? errno : 0;
  if (fd >= 0) close(fd);
  close(dev);
  return err;
}

static int tcp_repair_probe(void) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return errno;
  int one = 1;
  int err = setsockopt(s, IPPROTO_TCP, TCP_REPAIR, &one, sizeof one) ? errno : 0;
  close(s);
  return err;
}

/* A small integer from a /proc/sys file; -1 if the file is not there. */
static int sysctl_int(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[16] = "";
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  return n > 0 && buf[0] >= '0' && buf[0] <= '9' ? buf[0] - '0' : -1;
}

API int32_t amber_ctl_check(char *buf, int32_t cap) {
  unsigned a = 0, b = 0, c = 0, d = 0, xsave_size = 0, osxsave, avx512f = 0;
  __cpuid(1, a, b, c, d);
  osxsave = (c >> 27) & 1;
  if (__get_cpuid_max(0, 0) >= 0xd) {
    __cpuid_count(0xd, 0, a, b, c, d);
    xsave_size = b; /* the XSAVE area of the components the kernel enabled (XCR0) */
  }
  if (__get_cpuid_max(0, 0) >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    avx512f = (b >> 16) & 1;
  }
  struct json j;
  json_init(&j, buf, cap);
  json_raw(&j, "{\"probes\":{\"seccompFilter\":%d,\"seccompUserNotif\":%d,\"ptrace\":%d,",
           in_child(seccomp_filter_child), in_child(seccomp_notify_child), ptrace_probe());
  json_raw(&j, "\"pagemap\":%d,\"pagemapScan\":%d,\"softDirty\":%d,\"userfaultfd\":%d,",
           pagemap_read_probe(), pagemap_scan_probe(), in_child(soft_dirty_child),
           userfaultfd_probe());
  json_raw(&j, "\"userfaultfdDev\":%d,\"tcpRepair\":%d,\"dirtyTracking\":%d},",
           userfaultfd_dev_probe(), tcp_repair_probe(), in_child(dirty_track_child));
  json_raw(&j, "\"ptraceScope\":%d,\"unprivilegedUserfaultfd\":%d,",
           sysctl_int("/proc/sys/kernel/yama/ptrace_scope"),
           sysctl_int("/proc/sys/vm/unprivileged_userfaultfd"));
  json_raw(&j, "\"osxsave\":%s,\"xsaveSize\":%u,\"avx512f\":%s,\"vdso\":%s,\"minSigStack\":%lu}",
           osxsave ? "true" : "false", xsave_size, avx512f ? "true" : "false",
           getauxval(AT_SYSINFO_EHDR) ? "true" : "false", getauxval(AT_MINSIGSTKSZ));
  return json_done(&j);
}
