/* System calls made by the `syscall` instruction in stubs shaped like Go's runtime's (a
 * `mov $nr, %eax` before it; Go's Syscall6 with its register moves before it and its compare
 * after it), so that only Amber's seccomp layer sees them. After a site's first trap Amber
 * rewrites it (docs/seccomp.md, "Rewritten sites"): the bytes before the syscall become a jmp,
 * and the calls keep their virtual ids, their arguments, the registers, the vector registers
 * and the calls that are not translated, before a snapshot and in the restored process. Two
 * threads make the same calls all along, from before the sites are rewritten (while they are)
 * through the snapshots, which find them inside the rewritten path, to after the restore; a
 * third waits in a wait4 made through a rewritten site (on Amber's stack for it) through every
 * snapshot and comes back after the restore with its child's virtual pid. Threads that end take
 * their stacks for the rewritten path with them.
 * Usage: rewrite_sites <dir> [off]   (off: runs itself again with AMBER_SYSCALL_REWRITE=off,
 * and checks that no site is rewritten) */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "wait_go.h"

long stub_getpid(void);           /* mov $39, %eax; syscall: Go's runtime.getpid */
long stub_gettid(void);           /* mov $186, %rax; syscall */
long stub_syscall6(long nr, long a1, long a2, long a3, long a4); /* Go's Syscall6 */
long stub_getpgid0(void);         /* mov $0, %edi; syscall: C's inline assembly */
long stub_getsid0(void);          /* mov $0x5555, %r8d; syscall: left on the trap */
long regs_kept(void);             /* 1 when a getpid keeps every register the kernel keeps */
extern const uint8_t site_getpid[], site_gettid[], site_syscall6[], site_regs[], site_getpgid[],
    site_getsid[];

__asm__(".text\n"
        ".p2align 5\n"
        "stub_getpid:\n\tmov $39, %eax\nsite_getpid:\n\tsyscall\n\tret\n"
        ".p2align 5\n"
        "stub_gettid:\n\tmov $186, %rax\nsite_gettid:\n\tsyscall\n\tret\n"
        ".p2align 5\n"
        "stub_getpgid0:\n\tmov $121, %eax\n\t.p2align 4\n\tmov $0, %edi\nsite_getpgid:\n\tsyscall\n"
        "\tret\n"
        ".p2align 5\n"
        "stub_getsid0:\n\tmov $124, %eax\n\txor %edi, %edi\n\t.p2align 4\n\tmov $0x5555, %r8d\n"
        "site_getsid:\n\tsyscall\n\tret\n"
        ".p2align 5\n"
        "stub_syscall6:\n\tpush %rbx\n\tmov %rdi, %rax\n\tmov %rsi, %rbx\n\tmov %rcx, %rdi\n"
        "\tmov %rdx, %rcx\n\tmov %r8, %rsi\n\txor %r8d, %r8d\n\txor %r9d, %r9d\n"
        /* Go's runtime/internal/syscall.Syscall6 from here */
        "\tmov %rsi, %r10\n\tmov %rdi, %rdx\n\tmov %rcx, %rsi\n.p2align 4\n\tmov %rbx, %rdi\n"
        "site_syscall6:\n\tsyscall\n\tcmp $0xfffffffffffff001, %rax\n\tjbe 1f\n\tnop\n1:\n"
        "\tpop %rbx\n\tret\n"
        ".p2align 5\n"
        "regs_kept:\n\tpush %rbx\n\tpush %rbp\n\tpush %r12\n\tsub $8, %rsp\n"
        "\tmov $0x1111, %rdi\n\tmov $0x2222, %rsi\n\tmov $0x3333, %rdx\n\tmov $0x4444, %r10\n"
        "\tmov $0x5555, %r8\n\tmov $0x6666, %r9\n\tmov $0x7777, %rbx\n\tmov $0x8888, %rbp\n"
        "\tmov $0x9999, %r12\n\tmovq %rdi, %xmm0\n\tmovq %rsi, %xmm7\n\tmovq %rdx, %xmm15\n"
        "\tstd\n.p2align 4\n"
        "\tmov $39, %eax\nsite_regs:\n\tsyscall\n"
        "\tpushfq\n\tpop %rax\n\tcld\n\tand $0x400, %rax\n\tjz 2f\n" /* the direction flag kept */
        "\tcmp $0x1111, %rdi\n\tjne 2f\n\tcmp $0x2222, %rsi\n\tjne 2f\n\tcmp $0x3333, %rdx\n\tjne 2f\n"
        "\tcmp $0x4444, %r10\n\tjne 2f\n\tcmp $0x5555, %r8\n\tjne 2f\n\tcmp $0x6666, %r9\n\tjne 2f\n"
        "\tcmp $0x7777, %rbx\n\tjne 2f\n\tcmp $0x8888, %rbp\n\tjne 2f\n\tcmp $0x9999, %r12\n\tjne 2f\n"
        "\tmovq %xmm0, %rax\n\tcmp $0x1111, %rax\n\tjne 2f\n\tmovq %xmm7, %rax\n\tcmp $0x2222, %rax\n"
        "\tjne 2f\n\tmovq %xmm15, %rax\n\tcmp $0x3333, %rax\n\tjne 2f\n"
        "\tmov $1, %eax\n\tjmp 3f\n2:\n\txor %eax, %eax\n3:\n"
        "\tadd $8, %rsp\n\tpop %r12\n\tpop %rbp\n\tpop %rbx\n\tret\n");

static int rewriting;

/* Whether the instruction before the syscall at `site` is now a jmp (len bytes before it). */
static int rewritten(const uint8_t *site, int len) { return site[-len] == 0xe9; }

static int all_rewritten(void) {
  return rewritten(site_getpid, 5) && rewritten(site_gettid, 7) && rewritten(site_syscall6, 3) &&
         rewritten(site_regs, 5) && rewritten(site_getpgid, 5);
}

/* A site is patched by whichever thread traps there first while no other thread patches: one
 * that the scheduler leaves waiting in its patch holds the others' sites back, so the sites are
 * waited for (calling them meanwhile), up to 10 seconds, not taken as patched after a number of
 * calls. */
static void await_rewrites(void) {
  for (int t = 0; t < 1000 && !all_rewritten(); t++) {
    stub_getpid(), stub_gettid(), stub_syscall6(SYS_getppid, 0, 0, 0, 0), regs_kept();
    stub_getpgid0();
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}

static double ns_per_call(long (*call)(void)) {
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (int i = 0; i < 20000; i++) call();
  clock_gettime(CLOCK_MONOTONIC, &b);
  return ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 20000;
}

static void checks(const char *phase) {
  pid_t self = getpid();
  CHECK(self >= 4200000, "%s: getpid %d is not virtual", phase, self);
  for (int i = 0; i < 1000; i++) {
    CHECK(stub_getpid() == self, "%s: call %d: stub getpid %ld, not %d", phase, i, stub_getpid(),
          self);
    CHECK(stub_gettid() == gettid(), "%s: call %d: stub gettid %ld, not %d", phase, i,
          stub_gettid(), gettid());
    CHECK(stub_syscall6(SYS_getppid, 0, 0, 0, 0) == getppid(), "%s: Syscall6 getppid", phase);
    CHECK(stub_syscall6(SYS_kill, self, 0, 0, 0) == 0, "%s: Syscall6 kill(self, 0) %ld", phase,
          stub_syscall6(SYS_kill, self, 0, 0, 0));
    CHECK(stub_syscall6(SYS_kill, 4999999, 0, 0, 0) == -ESRCH, "%s: kill(no such pid)", phase);
    CHECK(stub_syscall6(SYS_getuid, 0, 0, 0, 0) == getuid(), "%s: Syscall6 getuid", phase);
    CHECK(regs_kept() == 1, "%s: call %d: a getpid lost a register", phase, i);
    CHECK(stub_getpgid0() == getpgrp(), "%s: stub getpgid(0) %ld", phase, stub_getpgid0());
    CHECK(stub_getsid0() == getsid(0), "%s: stub getsid(0) %ld", phase, stub_getsid0());
  }
  /* a call the rewritten site passes back to its syscall: the mask, set in the trap's frame */
  sigset_t set, old, now;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  CHECK(stub_syscall6(SYS_rt_sigprocmask, SIG_BLOCK, (long)&set, (long)&old, 8) == 0,
        "%s: Syscall6 rt_sigprocmask", phase);
  sigprocmask(SIG_SETMASK, NULL, &now);
  CHECK(sigismember(&now, SIGUSR1), "%s: SIGUSR1 not blocked through the rewritten site", phase);
  sigprocmask(SIG_SETMASK, &old, NULL);
  /* a write: not watched, passes in the kernel from the site's own syscall */
  char line[64];
  int n = snprintf(line, sizeof line, "%s: through the site\n", phase);
  fflush(stdout);
  CHECK(stub_syscall6(SYS_write, 1, (long)line, n, 0) == n, "%s: Syscall6 write", phase);
  int want = rewriting;
  if (want) await_rewrites();
  CHECK(rewritten(site_getpid, 5) == want, "%s: getpid's site rewritten: %d", phase, !want);
  CHECK(rewritten(site_gettid, 7) == want, "%s: gettid's site rewritten: %d", phase, !want);
  CHECK(rewritten(site_syscall6, 3) == want, "%s: Syscall6's site rewritten: %d", phase, !want);
  CHECK(rewritten(site_regs, 5) == want, "%s: regs' site rewritten: %d", phase, !want);
  CHECK(rewritten(site_getpgid, 5) == want, "%s: getpgid's site rewritten: %d", phase, !want);
  /* 41 b8 55 55 00 00: the 41 could be a REX prefix or the end of the instruction before */
  CHECK(!rewritten(site_getsid, 6), "%s: getsid's ambiguous site rewritten", phase);
  printf("%s: %.0f ns a getpid through the stub (rewritten: %d)\n", phase,
         ns_per_call(stub_getpid), want);
}

/* A thread that ends leaves no stack of Amber's behind: the mappings shaped like one (a guard
 * page, then 1 MiB less it, read-write) are counted before and after 64 short threads made
 * calls through a rewritten site, each then with its own. */
static int amber_stacks(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  CHECK(f, "maps: %s", strerror(errno));
  char line[512], perms[8];
  unsigned long lo, hi, guard_end = 0;
  int n = 0;
  while (fgets(line, sizeof line, f)) {
    if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3) continue;
    if (!strcmp(perms, "rw-p") && lo == guard_end && hi - lo == (1UL << 20) - 4096) n++;
    guard_end = !strcmp(perms, "---p") && hi - lo == 4096 ? hi : 0;
  }
  fclose(f);
  return n;
}

static void *short_lived(void *arg) {
  pid_t self = getpid();
  for (int i = 0; i < 3; i++) CHECK(stub_getpid() == self, "short thread: stub getpid");
  return arg;
}

static void threads_end(const char *phase) {
  int was = amber_stacks();
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  for (int i = 0; i < 64; i++) {
    pthread_t t;
    CHECK(pthread_create(&t, &attr, short_lived, NULL) == 0, "%s: pthread_create", phase);
    pthread_join(t, NULL);
  }
  int now = amber_stacks();
  CHECK(now <= was + 1, "%s: 64 threads that ended left %d stacks of Amber's", phase, now - was);
}

/* A thread that waits in a translated wait4, made through a rewritten site, while the snapshots
 * are taken: they find it inside the rewritten path (in the kernel, called from the library on
 * Amber's stack for it), and the restored thread comes back out through the entry, its wait
 * made again for the child's new system pid. */
static pid_t child;
static long waited = -1;
static int wait_status;
static uintptr_t own_lo, own_hi; /* the waiter's own stack */

static void *waiter(void *arg) {
  pthread_attr_t attr;
  void *lo;
  size_t size;
  pthread_getattr_np(pthread_self(), &attr);
  pthread_attr_getstack(&attr, &lo, &size);
  own_lo = (uintptr_t)lo, own_hi = (uintptr_t)lo + size;
  /* the first call traps, and gives the thread its stack for the rewritten path */
  CHECK(stub_syscall6(SYS_getppid, 0, 0, 0, 0) == getppid(), "waiter: getppid");
  waited = stub_syscall6(SYS_wait4, child, (long)&wait_status, 0, 0);
  return arg;
}

/* 2 when a thread is in wait4 with its stack pointer outside the waiter's own stack, 1 when
 * on it (the trapped call's handler), 0 when none is in wait4. */
static int waiter_state(void) {
  DIR *d = opendir("/proc/self/task");
  CHECK(d, "/proc/self/task: %s", strerror(errno));
  int state = 0;
  for (struct dirent *e; (e = readdir(d));) {
    char path[300], text[512] = "";
    snprintf(path, sizeof path, "/proc/self/task/%s/syscall", e->d_name);
    FILE *f = e->d_name[0] == '.' ? NULL : fopen(path, "r");
    if (!f) continue;
    long nr = -1;
    unsigned long a[6], sp = 0;
    if (fgets(text, sizeof text, f) &&
        sscanf(text, "%ld %lx %lx %lx %lx %lx %lx %lx", &nr, &a[0], &a[1], &a[2], &a[3], &a[4],
               &a[5], &sp) == 8 &&
        nr == SYS_wait4)
      state = sp >= own_lo && sp < own_hi ? 1 : 2;
    fclose(f);
  }
  closedir(d);
  return state;
}

static void await_waiter(void) {
  int want = rewriting ? 2 : 1, state = 0;
  for (int t = 0; t < 500 && (state = waiter_state()) != want; t++) {
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  CHECK(state == want, "the waiter is not in wait4 %s (state %d)",
        rewriting ? "on Amber's stack" : "on its own stack", state);
}

static void waiter_done(pthread_t t) {
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 10;
  CHECK(pthread_timedjoin_np(t, NULL, &deadline) == 0, "after: the waiter did not come back");
  CHECK(waited == child, "after: wait4 through the rewritten site gave %ld, not %d", waited,
        child);
  CHECK(WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 7, "after: the child's status %x",
        wait_status);
}

static volatile long progress[2];

static void *hammer(void *arg) {
  int i = (int)(long)arg;
  for (;;) {
    pid_t self = getpid();
    CHECK(stub_getpid() == self, "thread %d: stub getpid", i);
    CHECK(stub_gettid() == gettid(), "thread %d: stub gettid", i);
    CHECK(stub_syscall6(SYS_kill, self, 0, 0, 0) == 0, "thread %d: Syscall6 kill", i);
    CHECK(regs_kept() == 1, "thread %d: a getpid lost a register", i);
    progress[i]++;
  }
  return NULL;
}

/* Both threads get on within 5 seconds. */
static void threads_go_on(const char *phase) {
  long was[2] = {progress[0], progress[1]};
  for (int t = 0; t < 500 && (progress[0] == was[0] || progress[1] == was[1]); t++) {
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  CHECK(progress[0] != was[0] && progress[1] != was[1], "%s: the threads stopped", phase);
}

int main(int argc, char **argv) {
  if (argc > 2 && !strcmp(argv[2], "off") && !getenv("AMBER_SYSCALL_REWRITE")) {
    setenv("AMBER_SYSCALL_REWRITE", "off", 1);
    execv("/proc/self/exe", argv);
    CHECK(0, "exec: %s", strerror(errno));
  }
  rewriting = !getenv("AMBER_SYSCALL_REWRITE");
  setvbuf(stdout, NULL, _IOLBF, 0);
  child = fork();
  CHECK(child >= 0, "fork: %s", strerror(errno));
  if (child == 0) {
    wait_go(argv[1]);
    _exit(7);
  }
  pthread_t t[2], w;
  for (long i = 0; i < 2; i++) pthread_create(&t[i], NULL, hammer, (void *)i);
  checks("before");
  threads_go_on("before");
  threads_end("before");
  pthread_create(&w, NULL, waiter, NULL);
  await_waiter();
  say_ready();
  wait_go(argv[1]);
  checks("after");
  threads_go_on("after");
  threads_end("after");
  waiter_done(w);
  printf("PASS\n");
  return 0;
}
