/* Calls that name a process, made with the program's own virtual pid and with a child's,
 * through libc and through syscall(), before a snapshot and again in the restored processes
 * (with new system pids): each must act on the process it names, as /proc/<pid>/... (reached
 * through the virtual pid) or the child itself tells, and a pid the application does not know
 * (a system pid, or a virtual pid no process has) fails with ESRCH. A descriptor's owner set
 * before the snapshot still names the child after the restore. A thread is named by its
 * virtual TID.
 * The child answers one-letter questions about itself over a pipe, with calls that name it by
 * 0 (itself), which need no translation. Calls given a system pid only read (or send signal 0),
 * in case one reached the system's process. */
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/kcmp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>

#include "pid_child.h"
#include "wait_go.h"

int capget(cap_user_header_t header, cap_user_data_t data);
int capset(cap_user_header_t header, const cap_user_data_t data);

/* linux/sched/types.h, which clashes with glibc's sched.h */
struct sched_attr {
  uint32_t size, sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime, sched_deadline, sched_period;
  uint32_t sched_util_min, sched_util_max;
};

#define UNKNOWN_VPID 4299999 /* in the virtual range, no process's */
#define SYSTEM_PID 1         /* a system pid: never a name the program may use */
#define IOPRIO(class, data) ((class) << 13 | (data))

static pid_t me, kid;
static int shared_fd;
static volatile long target_var;
static volatile sig_atomic_t usr1s, sigios, queued_pid, queued_value;
static struct {
  void *next;
  long offset;
  void *pending;
} kid_head;

static void on_usr1(int sig) { usr1s++; }
/* A thread of this process, named by its virtual TID: it answers with its own nice value and
 * CPUs, and counts the SIGIO aimed at it. */
static pid_t worker_tid;
static int worker_q[2], worker_a[2];
static volatile sig_atomic_t worker_sigios;

static void on_sigio(int sig) {
  if (worker_tid && gettid() == worker_tid) worker_sigios++;
  else sigios++;
}
static void on_usr2(int sig, siginfo_t *info, void *uc) {
  queued_pid = info->si_pid;
  queued_value = info->si_value.sival_int;
}

static void handle(int sig, void (*fn)(int)) {
  struct sigaction sa = {.sa_handler = fn, .sa_flags = SA_RESTART};
  sigaction(sig, &sa, NULL);
}

static void handle_usr2(void) {
  struct sigaction sa = {.sa_sigaction = on_usr2, .sa_flags = SA_RESTART | SA_SIGINFO};
  sigaction(SIGUSR2, &sa, NULL);
}

/* Its own effective capabilities, low word, asked with pid 0. */
static long own_caps(void) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  return capget(&h, d) == 0 ? (long)d[0].effective : -1;
}

/* The child drops CAP_SYS_BOOT from its effective set, naming itself by its virtual pid. */
static long drop_boot(void) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, getpid()};
  struct __user_cap_data_struct d[2];
  if (capget(&h, d) != 0) return -errno;
  d[0].effective &= ~(1u << CAP_SYS_BOOT);
  return capset(&h, d) == 0 ? 0 : -errno;
}

static long answer(char c) {
  struct rlimit rl;
  cpu_set_t set;
  switch (c) {
  case 'n': return getpriority(PRIO_PROCESS, 0);
  case 'i': return syscall(SYS_ioprio_get, 1, 0);
  case 'u': return usr1s;
  case 'o': return sigios;
  case 'q': return queued_pid;
  case 'v': return queued_value;
  case 'm': return target_var;
  case 'r': return (long)&kid_head;
  case 'p': return sched_getscheduler(0);
  case 'k': return own_caps();
  case 'd': return drop_boot();
  case 'l': return getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (long)rl.rlim_cur : -1;
  case 'a':
    if (sched_getaffinity(0, sizeof set, &set) != 0) return -1;
    return (CPU_ISSET(0, &set) ? 1 : 0) | (CPU_ISSET(1, &set) ? 2 : 0);
  }
  return -1;
}

static void setup(void) {
  handle(SIGUSR1, on_usr1);
  handle(SIGIO, on_sigio);
  handle_usr2();
  syscall(SYS_set_robust_list, &kid_head, sizeof kid_head);
  target_var = 0xC41D;
}

static int eventually(volatile sig_atomic_t *v, long want) {
  for (int i = 0; i < 300 && *v != want; i++) usleep(10000);
  return *v == want;
}

#define ESRCH_FROM(call) CHECK((call) == -1 && errno == ESRCH, "%s did not fail with ESRCH", #call)

/* Field n (1-based, as proc(5) counts) of /proc/<pid>/stat, reached by the virtual pid. */
static long stat_field(pid_t pid, int n) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  CHECK(f, "open %s", path);
  size_t len = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[len] = 0;
  char *p = strrchr(buf, ')');
  CHECK(p, "%s: %s", path, buf);
  p += 2;
  for (int field = 3; field < n; field++) p = strchr(p, ' ') + 1;
  return atol(p);
}

/* The rest of the line that starts with `key` in /proc/<pid>/<file>. */
static void proc_line(pid_t pid, const char *file, const char *key, char *out, size_t cap) {
  char path[64], line[512];
  snprintf(path, sizeof path, "/proc/%d/%s", pid, file);
  FILE *f = fopen(path, "r");
  CHECK(f, "open %s", path);
  out[0] = 0;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, key, strlen(key)) != 0) continue;
    char *p = line + strlen(key);
    while (*p == ' ' || *p == '\t' || *p == ':') p++;
    p[strcspn(p, "\n")] = 0;
    snprintf(out, cap, "%s", p);
  }
  fclose(f);
  CHECK(out[0], "no %s in %s", key, path);
}

static void check_priority(int round) {
  int mine = 2 + round, kids = 4 + round;
  CHECK(setpriority(PRIO_PROCESS, me, mine) == 0, "setpriority(me): %s", strerror(errno));
  CHECK(setpriority(PRIO_PROCESS, kid, kids) == 0, "setpriority(kid): %s", strerror(errno));
  CHECK(getpriority(PRIO_PROCESS, kid) == kids, "getpriority(kid)");
  CHECK(stat_field(kid, 19) == kids && ask('n') == kids, "the child's nice is %ld",
        stat_field(kid, 19));
  CHECK(stat_field(me, 19) == mine && getpriority(PRIO_PROCESS, 0) == mine, "my nice changed");
  CHECK(syscall(SYS_setpriority, PRIO_PROCESS, kid, kids + 1) == 0, "SYS_setpriority");
  CHECK(syscall(SYS_getpriority, PRIO_PROCESS, kid) == 20 - (kids + 1), "SYS_getpriority");
  CHECK(ask('n') == kids + 1 && getpriority(PRIO_PROCESS, 0) == mine, "SYS_setpriority(kid)");
  CHECK(syscall(SYS_setpriority, PRIO_PROCESS, me, mine + 1) == 0, "SYS_setpriority(me)");
  CHECK(getpriority(PRIO_PROCESS, 0) == mine + 1, "SYS_setpriority(me) missed");
  CHECK(setpriority(PRIO_PGRP, kid, kids + 2) == 0, "setpriority(PRIO_PGRP)");
  CHECK(ask('n') == kids + 2 && getpriority(PRIO_PGRP, kid) == kids + 2, "PRIO_PGRP missed");
  CHECK(getpriority(PRIO_USER, getuid()) <= mine + 1, "PRIO_USER");
  ESRCH_FROM(getpriority(PRIO_PROCESS, SYSTEM_PID));
  ESRCH_FROM(setpriority(PRIO_PROCESS, UNKNOWN_VPID, 0));
  ESRCH_FROM(getpriority(PRIO_PROCESS, UNKNOWN_VPID));
  ESRCH_FROM(syscall(SYS_getpriority, PRIO_PGRP, SYSTEM_PID));
}

static void check_affinity(int round) {
  cpu_set_t set, got;
  int cpu = sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 1 - round % 2 : 0;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  CHECK(sched_setaffinity(kid, sizeof set, &set) == 0, "sched_setaffinity: %s", strerror(errno));
  char list[64];
  proc_line(kid, "status", "Cpus_allowed_list", list, sizeof list);
  CHECK(atoi(list) == cpu && !strchr(list, ',') && !strchr(list, '-'), "the child runs on %s",
        list);
  CHECK(ask('a') == 1 << cpu, "the child's own affinity is %ld", ask('a'));
  CHECK(sched_getaffinity(kid, sizeof got, &got) == 0 && CPU_EQUAL(&got, &set), "getaffinity");
  CHECK(sched_getaffinity(me, sizeof got, &got) == 0 && CPU_COUNT(&got) >= 1, "mine");
  CPU_ZERO(&set);
  for (int i = 0; i < 2 && i < sysconf(_SC_NPROCESSORS_ONLN); i++) CPU_SET(i, &set);
  CHECK(syscall(SYS_sched_setaffinity, kid, sizeof set, &set) == 0, "SYS_sched_setaffinity");
  CHECK(ask('a') == (CPU_COUNT(&set) == 2 ? 3 : 1), "SYS_sched_setaffinity missed");
  CHECK(syscall(SYS_sched_getaffinity, kid, sizeof got, &got) > 0 && CPU_EQUAL(&got, &set),
        "SYS_sched_getaffinity");
  ESRCH_FROM(sched_getaffinity(SYSTEM_PID, sizeof got, &got));
  ESRCH_FROM(sched_setaffinity(UNKNOWN_VPID, sizeof set, &set));
  ESRCH_FROM(syscall(SYS_sched_getaffinity, UNKNOWN_VPID, sizeof got, &got));
}

static void check_scheduler(void) {
  struct sched_param p = {0};
  CHECK(sched_setscheduler(kid, SCHED_BATCH, &p) == 0, "sched_setscheduler: %s",
        strerror(errno));
  CHECK(sched_getscheduler(kid) == SCHED_BATCH && ask('p') == SCHED_BATCH &&
            stat_field(kid, 41) == SCHED_BATCH,
        "the child's policy");
  CHECK(sched_getscheduler(me) == SCHED_OTHER && sched_getscheduler(0) == SCHED_OTHER, "mine");
  CHECK(syscall(SYS_sched_setscheduler, kid, SCHED_IDLE, &p) == 0, "SYS_sched_setscheduler");
  CHECK(ask('p') == SCHED_IDLE && syscall(SYS_sched_getscheduler, kid) == SCHED_IDLE,
        "SYS_sched_setscheduler missed");
  CHECK(sched_setparam(kid, &p) == 0 && syscall(SYS_sched_setparam, kid, &p) == 0, "setparam");
  p.sched_priority = 9;
  CHECK(sched_getparam(kid, &p) == 0 && p.sched_priority == 0, "sched_getparam");
  p.sched_priority = 9;
  CHECK(syscall(SYS_sched_getparam, kid, &p) == 0 && p.sched_priority == 0, "SYS_getparam");
  struct timespec ts;
  CHECK(sched_rr_get_interval(kid, &ts) == 0 && syscall(SYS_sched_rr_get_interval, me, &ts) == 0,
        "sched_rr_get_interval");
  /* sched_setattr exists only as a system call: back to SCHED_OTHER with a nice value. */
  struct sched_attr attr = {.size = sizeof attr, .sched_policy = SCHED_OTHER, .sched_nice = 11};
  CHECK(syscall(SYS_sched_setattr, kid, &attr, 0) == 0, "SYS_sched_setattr: %s",
        strerror(errno));
  CHECK(ask('p') == SCHED_OTHER && ask('n') == 11, "SYS_sched_setattr missed");
  memset(&attr, 0, sizeof attr);
  CHECK(syscall(SYS_sched_getattr, kid, &attr, sizeof attr, 0) == 0 && attr.sched_nice == 11,
        "SYS_sched_getattr");
  ESRCH_FROM(sched_getscheduler(SYSTEM_PID));
  ESRCH_FROM(sched_getparam(UNKNOWN_VPID, &p));
  ESRCH_FROM(sched_rr_get_interval(SYSTEM_PID, &ts));
  ESRCH_FROM(syscall(SYS_sched_getattr, SYSTEM_PID, &attr, sizeof attr, 0));
}

static void check_limits(int round) {
  struct rlimit mine, set = {100 + round, 200 - round}, old, got; /* a hard limit only falls */
  getrlimit(RLIMIT_NOFILE, &mine);
  CHECK(prlimit(kid, RLIMIT_NOFILE, &set, &old) == 0, "prlimit: %s", strerror(errno));
  char line[128];
  proc_line(kid, "limits", "Max open files", line, sizeof line);
  CHECK(atol(line) == 100 + round && ask('l') == 100 + round, "the child's limit: %s", line);
  getrlimit(RLIMIT_NOFILE, &got);
  CHECK(got.rlim_cur == mine.rlim_cur, "my own limit changed");
  CHECK(syscall(SYS_prlimit64, kid, RLIMIT_NOFILE, NULL, &got) == 0 &&
            got.rlim_cur == set.rlim_cur && got.rlim_max == set.rlim_max,
        "SYS_prlimit64");
  CHECK(prlimit(me, RLIMIT_NOFILE, NULL, &got) == 0 && got.rlim_cur == mine.rlim_cur, "mine");
  ESRCH_FROM(prlimit(SYSTEM_PID, RLIMIT_NOFILE, NULL, &got));
  ESRCH_FROM(syscall(SYS_prlimit64, UNKNOWN_VPID, RLIMIT_NOFILE, NULL, &got));
}

static void check_caps(void) {
  CHECK(ask('d') == 0, "the child's capset with its own virtual pid: %s", strerror(-ask('d')));
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, kid};
  struct __user_cap_data_struct d[2];
  CHECK(capget(&h, d) == 0, "capget(kid): %s", strerror(errno));
  long boot = 1L << CAP_SYS_BOOT;
  CHECK(d[0].effective == ask('k') && !(d[0].effective & boot), "capget(kid) reads %x",
        d[0].effective);
  char line[64];
  proc_line(kid, "status", "CapEff", line, sizeof line);
  CHECK((strtoull(line, NULL, 16) & 0xffffffff) == d[0].effective, "CapEff %s", line);
  h.pid = me;
  CHECK(capget(&h, d) == 0 && (d[0].effective & boot), "capget(me)");
  CHECK(capset(&h, d) == 0, "capset(me): %s", strerror(errno));
  h.pid = kid;
  CHECK(syscall(SYS_capget, &h, d) == 0 && d[0].effective == ask('k'), "SYS_capget");
  h.pid = UNKNOWN_VPID;
  ESRCH_FROM(capget(&h, d));
  h.pid = SYSTEM_PID;
  ESRCH_FROM(syscall(SYS_capget, &h, d));
}

static void check_ioprio(int round) {
  long kids = IOPRIO(2, round + 1), mine = IOPRIO(2, 7);
  CHECK(syscall(SYS_ioprio_set, 1, me, mine) == 0, "ioprio_set(me): %s", strerror(errno));
  CHECK(syscall(SYS_ioprio_set, 1, kid, kids) == 0, "ioprio_set(kid)");
  CHECK(ask('i') == kids && syscall(SYS_ioprio_get, 1, kid) == kids, "ioprio of the child");
  CHECK(syscall(SYS_ioprio_get, 1, 0) == mine, "my ioprio changed");
  CHECK(syscall(SYS_ioprio_set, 2, kid, IOPRIO(2, 5)) == 0 && ask('i') == IOPRIO(2, 5),
        "IOPRIO_WHO_PGRP");
  ESRCH_FROM(syscall(SYS_ioprio_get, 1, SYSTEM_PID));
  ESRCH_FROM(syscall(SYS_ioprio_set, 1, UNKNOWN_VPID, kids));
}

static void check_kcmp(void) {
  CHECK(syscall(SYS_kcmp, me, me, KCMP_VM, 0, 0) == 0, "kcmp(me, me): %s", strerror(errno));
  CHECK(syscall(SYS_kcmp, kid, kid, KCMP_VM, 0, 0) == 0, "kcmp(kid, kid)");
  long vm = syscall(SYS_kcmp, me, kid, KCMP_VM, 0, 0);
  CHECK(vm == 1 || vm == 2, "kcmp(me, kid, KCMP_VM) is %ld", vm);
  CHECK(syscall(SYS_kcmp, me, kid, KCMP_FILE, shared_fd, shared_fd) == 0, "the shared file");
  ESRCH_FROM(syscall(SYS_kcmp, me, SYSTEM_PID, KCMP_VM, 0, 0));
}

static void check_pidfd(int round) {
  long before = ask('u');
  int fd = pidfd_open(kid, 0);
  CHECK(fd >= 0, "pidfd_open(kid): %s", strerror(errno));
  CHECK(pidfd_send_signal(fd, SIGUSR1, NULL, 0) == 0, "pidfd_send_signal");
  CHECK(child_says('u', before + 1), "the child did not get the pidfd's SIGUSR1");
  siginfo_t info = {.si_signo = SIGUSR2, .si_code = SI_QUEUE};
  info.si_pid = me;
  info.si_uid = getuid();
  info.si_value.sival_int = 30 + round;
  CHECK(pidfd_send_signal(fd, SIGUSR2, &info, 0) == 0, "pidfd_send_signal(info)");
  CHECK(child_says('v', 30 + round) && ask('q') == me, "the child read si_pid %ld", ask('q'));
  close(fd);
  fd = syscall(SYS_pidfd_open, kid, 0);
  CHECK(fd >= 0 && syscall(SYS_pidfd_send_signal, fd, SIGUSR1, NULL, 0) == 0, "SYS_pidfd_*");
  CHECK(child_says('u', before + 2), "SYS_pidfd_send_signal missed");
  close(fd);
  fd = pidfd_open(me, 0);
  CHECK(fd >= 0, "pidfd_open(me)");
  close(fd);
  ESRCH_FROM(pidfd_open(SYSTEM_PID, 0));
  ESRCH_FROM(syscall(SYS_pidfd_open, UNKNOWN_VPID, 0));
}

static void check_process_vm(int round) {
  long got = 0, put = 1000 + round;
  struct iovec local = {&got, sizeof got}, remote = {(void *)&target_var, sizeof target_var};
  CHECK(process_vm_readv(kid, &local, 1, &remote, 1, 0) == sizeof got, "process_vm_readv: %s",
        strerror(errno));
  CHECK(got == ask('m') && got != target_var, "read %lx from the child", got);
  local.iov_base = &put;
  CHECK(process_vm_writev(kid, &local, 1, &remote, 1, 0) == sizeof put, "process_vm_writev");
  CHECK(ask('m') == put && target_var != put, "the write landed elsewhere");
  put++;
  CHECK(syscall(SYS_process_vm_writev, kid, &local, 1, &remote, 1, 0) == sizeof put &&
            ask('m') == put,
        "SYS_process_vm_writev");
  local.iov_base = &got;
  CHECK(syscall(SYS_process_vm_readv, kid, &local, 1, &remote, 1, 0) == sizeof got && got == put,
        "SYS_process_vm_readv");
  CHECK(process_vm_readv(me, &local, 1, &remote, 1, 0) == sizeof got && got == target_var,
        "process_vm_readv(me)");
  ESRCH_FROM(process_vm_readv(SYSTEM_PID, &local, 1, &remote, 1, 0));
}

static void check_robust_list(void) {
  void *head, *mine;
  size_t len;
  CHECK(syscall(SYS_get_robust_list, kid, &head, &len) == 0, "get_robust_list(kid): %s",
        strerror(errno));
  CHECK((long)head == ask('r') && len == sizeof kid_head, "the child's list is at %p", head);
  CHECK(syscall(SYS_get_robust_list, 0, &mine, &len) == 0 && mine != head, "my own list");
  CHECK(syscall(SYS_get_robust_list, me, &head, &len) == 0 && head == mine, "by my pid");
  ESRCH_FROM(syscall(SYS_get_robust_list, SYSTEM_PID, &head, &len));
}

static void check_queued_signals(int round) {
  siginfo_t info = {.si_signo = SIGUSR2, .si_code = SI_QUEUE};
  info.si_pid = me;
  info.si_uid = getuid();
  info.si_value.sival_int = 50 + round;
  CHECK(syscall(SYS_rt_sigqueueinfo, kid, SIGUSR2, &info) == 0, "rt_sigqueueinfo: %s",
        strerror(errno));
  CHECK(child_says('v', 50 + round) && ask('q') == me, "the child read si_pid %ld", ask('q'));
  info.si_value.sival_int = 60 + round;
  CHECK(syscall(SYS_rt_tgsigqueueinfo, kid, kid, SIGUSR2, &info) == 0, "rt_tgsigqueueinfo");
  CHECK(child_says('v', 60 + round) && ask('q') == me, "tg: the child read si_pid %ld",
        ask('q'));
  CHECK(sigqueue(kid, SIGUSR2, (union sigval){.sival_int = 65 + round}) == 0, "sigqueue");
  CHECK(child_says('v', 65 + round) && ask('q') == me, "sigqueue: si_pid %ld", ask('q'));
  info.si_value.sival_int = 70 + round;
  CHECK(syscall(SYS_rt_sigqueueinfo, me, SIGUSR2, &info) == 0, "rt_sigqueueinfo(me)");
  CHECK(eventually(&queued_value, 70 + round) && queued_pid == me, "I read si_pid %d",
        (int)queued_pid);
  sigset_t rt, old;
  sigemptyset(&rt);
  sigaddset(&rt, SIGRTMIN);
  sigprocmask(SIG_BLOCK, &rt, &old);
  info.si_signo = SIGRTMIN;
  CHECK(syscall(SYS_rt_sigqueueinfo, me, SIGRTMIN, &info) == 0, "rt_sigqueueinfo(SIGRTMIN)");
  siginfo_t got;
  struct timespec second = {1, 0};
  CHECK(syscall(SYS_rt_sigtimedwait, &rt, &got, &second, 8) == SIGRTMIN && got.si_pid == me,
        "SYS_rt_sigtimedwait read si_pid %d", got.si_pid);
  sigprocmask(SIG_SETMASK, &old, NULL);
  ESRCH_FROM(syscall(SYS_rt_sigqueueinfo, SYSTEM_PID, 0, &info)); /* 0: no signal sent */
  ESRCH_FROM(syscall(SYS_rt_tgsigqueueinfo, kid, UNKNOWN_VPID, SIGUSR2, &info));
}

/* A write to the pipe sends SIGIO to the read end's owner. */
static void poke(int p[2]) {
  char c = 'x';
  CHECK(write(p[1], &c, 1) == 1 && read(p[0], &c, 1) == 1, "pipe");
}

/* A socket's owner set by ioctl: FIOSETOWN, SIOCSPGRP (negative: a group) and their getters. */
static void check_socket_owner(long sigios_before) {
  int sv[2], got;
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
  CHECK(ioctl(sv[0], FIOSETOWN, &kid) == 0, "FIOSETOWN: %s", strerror(errno));
  CHECK(fcntl(sv[0], F_GETOWN) == kid && ioctl(sv[0], FIOGETOWN, &got) == 0 && got == kid,
        "FIOGETOWN reads %d", got);
  CHECK(fcntl(sv[0], F_SETFL, O_ASYNC | O_NONBLOCK) == 0, "O_ASYNC");
  char c = 's';
  CHECK(write(sv[1], &c, 1) == 1 && child_says('o', sigios_before + 1) && read(sv[0], &c, 1) == 1,
        "the child got no SIGIO from the socket it owns");
  int group = -kid;
  CHECK(ioctl(sv[0], SIOCSPGRP, &group) == 0 && ioctl(sv[0], SIOCGPGRP, &got) == 0 &&
            got == -kid,
        "SIOCGPGRP reads %d", got);
  CHECK(syscall(SYS_ioctl, sv[0], FIOSETOWN, &me) == 0 && fcntl(sv[0], F_GETOWN) == me &&
            syscall(SYS_ioctl, sv[0], FIOGETOWN, &got) == 0 && got == me,
        "SYS_ioctl FIOSETOWN(me)");
  got = UNKNOWN_VPID;
  ESRCH_FROM(ioctl(sv[0], FIOSETOWN, &got));
  got = SYSTEM_PID;
  ESRCH_FROM(syscall(SYS_ioctl, sv[0], SIOCSPGRP, &got));
  close(sv[0]);
  close(sv[1]);
}

/* A new session with a terminal of its own: its foreground group and session, by ioctl, by the
 * tc* functions and through syscall(). Returns 0, or which check failed. */
static int terminal_session(void) {
  pid_t self = getpid(), got = 0, bad = SYSTEM_PID;
  if (setsid() != self) return 1;
  int m = posix_openpt(O_RDWR | O_NOCTTY);
  if (m < 0 || grantpt(m) != 0 || unlockpt(m) != 0) return 2;
  int t = open(ptsname(m), O_RDWR); /* the session's controlling terminal */
  if (t < 0) return 3;
  if (ioctl(t, TIOCSPGRP, &self) != 0) return 4;
  if (tcgetpgrp(t) != self || tcgetsid(t) != self) return 5;
  if (ioctl(t, TIOCGPGRP, &got) != 0 || got != self) return 6;
  got = 0;
  if (syscall(SYS_ioctl, t, TIOCGSID, &got) != 0 || got != self) return 7;
  if (tcsetpgrp(t, self) != 0) return 8;
  if (tcsetpgrp(t, UNKNOWN_VPID) != -1 || errno != ESRCH) return 9;
  if (ioctl(t, TIOCSPGRP, &bad) != -1 || errno != ESRCH) return 10;
  return 0;
}

static void check_terminal(void) {
  pid_t c = fork();
  CHECK(c >= 0, "fork");
  if (c == 0) _exit(terminal_session());
  int status;
  CHECK(waitpid(c, &status, 0) == c && WIFEXITED(status), "the terminal's session");
  CHECK(WEXITSTATUS(status) == 0, "the terminal's session failed check %d", WEXITSTATUS(status));
}

/* A timer made with a raw timer_create that signals one thread, named by its virtual TID. */
static void check_raw_thread_timer(void) {
  sigset_t rt, old;
  sigemptyset(&rt);
  sigaddset(&rt, SIGRTMIN + 1);
  sigprocmask(SIG_BLOCK, &rt, &old);
  struct sigevent ev = {.sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGRTMIN + 1};
  ev._sigev_un._tid = gettid();
  int timer;
  CHECK(syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &timer) == 0, "SYS_timer_create: %s",
        strerror(errno));
  struct itimerspec soon = {{0, 0}, {0, 1000000}};
  CHECK(syscall(SYS_timer_settime, timer, 0, &soon, NULL) == 0, "SYS_timer_settime");
  struct timespec second = {1, 0};
  siginfo_t info;
  CHECK(sigtimedwait(&rt, &info, &second) == SIGRTMIN + 1 && info.si_code == SI_TIMER,
        "the thread timer did not fire");
  CHECK(syscall(SYS_timer_delete, timer) == 0, "SYS_timer_delete");
  ev._sigev_un._tid = UNKNOWN_VPID;
  CHECK(syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &timer) == -1 && errno == EINVAL,
        "a timer for an unknown thread");
  sigprocmask(SIG_SETMASK, &old, NULL);
}

static void check_owner(void) {
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  CHECK(fcntl(p[0], F_SETFL, O_ASYNC | O_NONBLOCK) == 0, "O_ASYNC");
  long before = ask('o');
  CHECK(fcntl(p[0], F_SETOWN, kid) == 0, "F_SETOWN(kid): %s", strerror(errno));
  CHECK(fcntl(p[0], F_GETOWN) == kid, "F_GETOWN is %d", fcntl(p[0], F_GETOWN));
  poke(p);
  CHECK(child_says('o', before + 1), "the child got no SIGIO");
  CHECK(fcntl64(p[0], F_SETOWN, -kid) == 0 && fcntl64(p[0], F_GETOWN) == -kid, "the group");
  poke(p);
  CHECK(child_says('o', before + 2), "the child's group got no SIGIO");
  struct f_owner_ex ex = {F_OWNER_PID, kid};
  CHECK(fcntl(p[0], F_SETOWN_EX, &ex) == 0, "F_SETOWN_EX");
  memset(&ex, 0, sizeof ex);
  CHECK(fcntl(p[0], F_GETOWN_EX, &ex) == 0 && ex.type == F_OWNER_PID && ex.pid == kid,
        "F_GETOWN_EX reads %d %d", ex.type, ex.pid);
  poke(p);
  CHECK(child_says('o', before + 3), "F_SETOWN_EX: the child got no SIGIO");
  CHECK(syscall(SYS_fcntl, p[0], F_SETOWN, me) == 0 && syscall(SYS_fcntl, p[0], F_GETOWN) == me,
        "SYS_fcntl F_SETOWN(me)");
  int mine = sigios;
  poke(p);
  CHECK(eventually(&sigios, mine + 1) && ask('o') == before + 3, "my SIGIO");
  ESRCH_FROM(fcntl(p[0], F_SETOWN, SYSTEM_PID));
  check_socket_owner(before + 3);
  ESRCH_FROM(fcntl(p[0], F_SETOWN, UNKNOWN_VPID));
  ex.pid = SYSTEM_PID;
  ESRCH_FROM(syscall(SYS_fcntl, p[0], F_SETOWN_EX, &ex));
  close(p[0]);
  close(p[1]);
}

static void *worker(void *arg) {
  worker_tid = gettid();
  for (;;) {
    char c;
    if (read(worker_q[0], &c, 1) != 1) continue;
    cpu_set_t set;
    sched_getaffinity(0, sizeof set, &set);
    long v[2] = {getpriority(PRIO_PROCESS, 0),
                 (CPU_ISSET(0, &set) ? 1 : 0) | (CPU_ISSET(1, &set) ? 2 : 0)};
    if (write(worker_a[1], v, sizeof v) != sizeof v) return NULL;
  }
}

static void start_worker(void) {
  CHECK(pipe(worker_q) == 0 && pipe(worker_a) == 0, "pipe");
  /* The real-time signals that other checks aim at this process are not the worker's. */
  sigset_t rt, old;
  sigemptyset(&rt);
  sigaddset(&rt, SIGRTMIN);
  sigaddset(&rt, SIGRTMIN + 1);
  pthread_sigmask(SIG_BLOCK, &rt, &old);
  pthread_t t;
  CHECK(pthread_create(&t, NULL, worker, NULL) == 0, "pthread_create");
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  for (int i = 0; i < 300 && !__atomic_load_n(&worker_tid, __ATOMIC_ACQUIRE); i++) usleep(10000);
  CHECK(worker_tid > me, "the thread's TID is %d", worker_tid);
}

/* The worker's nice value (0) or CPUs (1), as it reads them itself. */
static long worker_says(int what) {
  long v[2];
  CHECK(write(worker_q[1], "?", 1) == 1 && read(worker_a[0], v, sizeof v) == sizeof v, "worker");
  return v[what];
}

static void check_thread(int round) {
  int mine = getpriority(PRIO_PROCESS, 0);
  CHECK(setpriority(PRIO_PROCESS, worker_tid, 12 + round) == 0, "setpriority(thread): %s",
        strerror(errno));
  CHECK(worker_says(0) == 12 + round && getpriority(PRIO_PROCESS, 0) == mine,
        "the thread's nice is %ld", worker_says(0));
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(0, &set);
  CHECK(syscall(SYS_sched_setaffinity, worker_tid, sizeof set, &set) == 0, "affinity(thread)");
  CHECK(worker_says(1) == 1, "the thread runs on %ld", worker_says(1));
  for (int i = 0; i < 2 && i < sysconf(_SC_NPROCESSORS_ONLN); i++) CPU_SET(i, &set);
  CHECK(sched_setaffinity(worker_tid, sizeof set, &set) == 0, "affinity(thread) back");
  int p[2];
  CHECK(pipe(p) == 0 && fcntl(p[0], F_SETFL, O_ASYNC | O_NONBLOCK) == 0, "pipe");
  struct f_owner_ex ex = {F_OWNER_TID, worker_tid};
  CHECK(fcntl(p[0], F_SETOWN_EX, &ex) == 0, "F_SETOWN_EX(F_OWNER_TID): %s", strerror(errno));
  memset(&ex, 0, sizeof ex);
  CHECK(fcntl(p[0], F_GETOWN_EX, &ex) == 0 && ex.type == F_OWNER_TID && ex.pid == worker_tid,
        "F_GETOWN_EX reads %d %d", ex.type, ex.pid);
  int before = worker_sigios, mine_before = sigios;
  char c = 't';
  CHECK(write(p[1], &c, 1) == 1, "write");
  CHECK(eventually(&worker_sigios, before + 1) && sigios == mine_before,
        "the thread got no SIGIO of its own");
  close(p[0]);
  close(p[1]);
}

/* A pipe whose SIGIO (made SIGUSR1 by F_SETSIG) goes to the child, set before the snapshot:
 * the restored description still names the child, by its new system pid. */
static int owned[2];

static void own_pipe(void) {
  CHECK(pipe(owned) == 0, "pipe");
  CHECK(fcntl(owned[0], F_SETFL, O_ASYNC | O_NONBLOCK) == 0, "O_ASYNC");
  CHECK(fcntl(owned[0], F_SETOWN, kid) == 0 && fcntl(owned[0], F_SETSIG, SIGUSR1) == 0,
        "F_SETOWN, F_SETSIG");
}

static void check_owned_pipe(void) {
  CHECK(fcntl(owned[0], F_GETOWN) == kid, "the pipe's owner is %d, the child is %d",
        fcntl(owned[0], F_GETOWN), kid);
  CHECK(fcntl(owned[0], F_GETSIG) == SIGUSR1, "the pipe's signal is %d",
        fcntl(owned[0], F_GETSIG));
  long before = ask('u');
  poke(owned);
  CHECK(child_says('u', before + 1), "the child got no signal from the pipe it owns");
}

static void check_all(int round) {
  check_priority(round);
  check_affinity(round);
  check_scheduler();
  check_limits(round);
  check_caps();
  check_ioprio(round);
  check_kcmp();
  check_pidfd(round);
  check_process_vm(round);
  check_robust_list();
  check_queued_signals(round);
  check_owner();
  check_terminal();
  check_raw_thread_timer();
  check_thread(round);
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: pid_calls DIR");
  setvbuf(stdout, NULL, _IOLBF, 0);
  shared_fd = open("/dev/null", O_RDONLY);
  kid = start_child(setup, answer);
  me = getpid();
  handle(SIGIO, on_sigio);
  handle_usr2();
  CHECK(child_says('m', 0xC41D), "the child did not start");
  start_worker();
  check_all(0);
  own_pipe();
  check_owned_pipe();
  say_ready();
  wait_go(argv[1]);
  CHECK(getpid() == me, "my pid changed");
  check_owned_pipe();
  check_all(1);
  stop_child();
  printf("PASS\n");
  return 0;
}
