/* Holds a descriptor Amber cannot save, so that a snapshot must fail, naming it, and leave the
 * program running: KIND is "inotify" (an inotify descriptor watching DIR, with an event not read yet), "rights" (a socket
 * in flight over a socket pair, with a descriptor in flight in its own queue: nested),
 * "rights-outside" (a socket with a descriptor in flight that it hands to fd_holder, outside
 * the application, through DIR/give.sock), "rights-locked" (a descriptor in flight in a
 * process holding a POSIX lock on DIR/locked), "backlog-bytes" (a connection waiting to be
 * accepted whose client sent bytes; "tcp-backlog-bytes" over TCP), "backlog-unlinked" (a
 * connection from the program waiting on a listener whose path was unlinked), "netlink" (a route netlink
 * socket), "cwd" (its current directory DIR/gone, deleted), "pty" (a pseudo-terminal it made,
 * its master in packet mode, with output not read), "traced" (a thread that blocks every signal with the raw
 * system call, traced by a child, so that the coordinator cannot trace it), or a path longer
 * than Amber's records hold: "long-fd" (a file open for writing), "long-map" (a file mapped
 * shared) or "long-cwd" (the working directory), all under DIR; "aio" (an AIO context,
 * io_setup, with a write done through it), "uring-map" (an io_uring's rings mapped, its
 * descriptor closed), "setid-child" (a child running a set-group-ID copy of sleep, DIR/sleep,
 * into which the kernel preloads no library), "pidfd-outside" (a pidfd of init, outside the
 * application); "vfork": a thread waits
 * in the kernel, uninterruptibly, for a vfork child that never execs. Says "ready", then prints
 * "tick N" every 20 ms until DIR/go exists, and "PASS".
 *
 *   unsaveable KIND DIR */
#include <arpa/inet.h>
#include <linux/aio_abi.h>
#include <linux/io_uring.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <fcntl.h>

#include "check.h"

static volatile long deaf_tid;
static pid_t tracer;

/* Blocks every signal behind the library's back; its virtual tid, for ptrace (through the
 * library, which translates it). */
static void *deaf_thread(void *arg) {
  uint64_t all = ~0ULL;
  long tid = gettid(); /* virtual: ptrace takes it through the library */
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, NULL, 8);
  deaf_tid = tid;
  for (;;) pause();
  return arg;
}

/* A directory under dir whose path is at least min bytes long, made level by level. */
static const char *deep_dir(const char *dir, size_t min) {
  static char path[4096];
  snprintf(path, sizeof path, "%s", dir);
  while (strlen(path) < min) {
    strcat(path, "/dddddddddddddddddddddddddddddddddddddddddddddddddd");
    CHECK(mkdir(path, 0700) == 0 || errno == EEXIST, "mkdir: errno %d", errno);
  }
  return path;
}

/* A file in a directory under dir, its path longer than 255 bytes, one page long. */
static int long_file(const char *dir) {
  char path[4096];
  snprintf(path, sizeof path, "%s/file", deep_dir(dir, 300));
  int fd = open(path, O_RDWR | O_CREAT, 0600);
  CHECK(fd >= 0 && ftruncate(fd, 4096) == 0, "long file: errno %d", errno);
  return fd;
}

/* A deaf thread, seized by a child: a thread has one tracer at most. */
static void traced(void) {
  pthread_t t;
  CHECK(pthread_create(&t, NULL, deaf_thread, NULL) == 0, "pthread_create");
  while (!deaf_tid) usleep(1000);
  int ready[2];
  CHECK(pipe(ready) == 0, "pipe: errno %d", errno);
  pid_t child = fork();
  CHECK(child >= 0, "fork: errno %d", errno);
  if (child == 0) {
    char ok = ptrace(PTRACE_SEIZE, (pid_t)deaf_tid, 0, 0) == 0;
    CHECK(write(ready[1], &ok, 1) == 1, "write: errno %d", errno);
    for (;;) pause();
  }
  tracer = child;
  char ok = 0;
  CHECK(read(ready[0], &ok, 1) == 1 && ok, "the child could not seize the deaf thread");
}

/* A thread that waits in the kernel where no signal and no ptrace stop ends the wait: the
 * parent's side of a vfork (raw clone with CLONE_VM | CLONE_VFORK), whose child pauses before
 * it ever execs. The child, on a stack of its own, makes raw system calls only. */
static volatile long vfork_child;
static char child_stack[16384] __attribute__((aligned(16)));

static void *vfork_thread(void *arg) {
  long ret;
  register long r10 __asm__("r10") = 0;
  register long r8 __asm__("r8") = 0;
  /* Amber's mark on the clone too: the seccomp layer would make a copy of the memory (its own
   * vfork), and the parent would never see the child's pid. */
  __asm__ volatile("movabsq $0x416d6265725f7363, %%r9\n"
                   "syscall\n"
                   "testq %%rax, %%rax\n"
                   "jnz 1f\n"
                   "movabsq $0x416d6265725f7363, %%r9\n" /* Amber's mark: its system pid */
                   "movl $39, %%eax\n"                   /* the child: getpid */
                   "syscall\n"
                   "movq %%rax, (%[out])\n"
                   "2: movl $34, %%eax\n" /* pause, until killed */
                   "syscall\n"
                   "jmp 2b\n"
                   "1:\n"
                   : "=a"(ret)
                   : "a"(SYS_clone), "D"((long)(CLONE_VM | CLONE_VFORK | SIGCHLD)),
                     "S"(child_stack + sizeof child_stack), "d"(0), "r"(r10), "r"(r8),
                     [out] "r"(&vfork_child)
                   : "rcx", "r9", "r11", "memory");
  CHECK(ret > 0, "clone: %ld", ret); /* the child is killed: reaped when the program ends */
  return arg;
}

static pthread_t vfork_waiter;

static void vforked(void) {
  CHECK(pthread_create(&vfork_waiter, NULL, vfork_thread, NULL) == 0, "pthread_create");
  while (!vfork_child) usleep(1000);
}

static void send_fd(int over, int fd) {
  char byte = 'x', control[CMSG_SPACE(sizeof(int))];
  memset(control, 0, sizeof control);
  struct iovec iov = {&byte, 1};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                       .msg_controllen = sizeof control};
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof(int));
  CHECK(sendmsg(over, &msg, 0) == 1, "sendmsg: errno %d", errno);
}

static pid_t setid_child;

/* A child running DIR/sleep, a copy of sleep made set-group-ID to nogroup (the test runs as
 * root, whose group it is not). */
static pid_t setid_sleep(const char *dir) {
  char path[4096], buf[65536];
  snprintf(path, sizeof path, "%s/sleep", dir);
  int in = open("/bin/sleep", O_RDONLY), out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
  CHECK(in >= 0 && out >= 0, "copy sleep: errno %d", errno);
  for (ssize_t n; (n = read(in, buf, sizeof buf)) > 0;) CHECK(write(out, buf, n) == n, "write");
  close(in);
  close(out);
  CHECK(chown(path, -1, 65534) == 0 && chmod(path, 02755) == 0, "set-group-ID: errno %d", errno);
  pid_t child = fork();
  CHECK(child >= 0, "fork");
  if (child == 0) {
    execl(path, path, "600", (char *)NULL);
    _exit(127);
  }
  usleep(100 * 1000); /* exec'd */
  return child;
}

/* An AIO context with one write done through it and its event reaped: the ring stays mapped. */
static void aio_context(const char *dir) {
  aio_context_t ctx = 0;
  CHECK(syscall(SYS_io_setup, 4, &ctx) == 0, "io_setup: errno %d", errno);
  char path[4096];
  snprintf(path, sizeof path, "%s/aio.out", dir);
  int fd = open(path, O_WRONLY | O_CREAT, 0600);
  CHECK(fd >= 0, "open: errno %d", errno);
  struct iocb cb = {.aio_fildes = fd, .aio_lio_opcode = IOCB_CMD_PWRITE};
  struct iocb *cbs[1] = {&cb};
  cb.aio_buf = (unsigned long)"aio\n", cb.aio_nbytes = 4;
  struct io_event ev;
  CHECK(syscall(SYS_io_submit, ctx, 1, cbs) == 1 && syscall(SYS_io_getevents, ctx, 1, 1, &ev, NULL) == 1,
        "io_submit: errno %d", errno);
}

/* An io_uring whose submission ring is mapped, its descriptor closed: the mapping holds it. */
static void uring_mapped(void) {
  struct io_uring_params params = {0};
  int fd = (int)syscall(SYS_io_uring_setup, 4, &params);
  CHECK(fd >= 0, "io_uring_setup: errno %d", errno);
  size_t bytes = params.sq_off.array + params.sq_entries * sizeof(unsigned);
  CHECK(mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING) != MAP_FAILED,
        "mmap the ring: errno %d", errno);
  close(fd);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  CHECK(argc == 3, "usage: unsaveable KIND DIR");
  if (!strcmp(argv[1], "inotify")) {
    int fd = inotify_init1(IN_CLOEXEC);
    CHECK(fd >= 0, "inotify_init1: errno %d", errno);
    CHECK(inotify_add_watch(fd, argv[2], IN_CREATE) >= 0, "inotify_add_watch: errno %d", errno);
    char made[4096]; /* an event queued and never read */
    snprintf(made, sizeof made, "%s/made", argv[2]);
    int m = open(made, O_WRONLY | O_CREAT, 0600);
    CHECK(m >= 0, "create %s: errno %d", made, errno);
    close(m);
  } else if (!strcmp(argv[1], "rights")) {
    /* Nested: a socket in flight whose own queue holds a descriptor in flight. */
    int a[2], b[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, a) == 0 && socketpair(AF_UNIX, SOCK_STREAM, 0, b) == 0,
          "socketpair: errno %d", errno);
    send_fd(b[0], a[0]); /* waits at b[1] */
    send_fd(a[0], b[1]); /* waits at a[1] */
  } else if (!strcmp(argv[1], "rights-outside")) {
    /* A socket with a descriptor in flight, handed to a process outside the application too
     * (fd_holder, which connects to DIR/give.sock). */
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair: errno %d", errno);
    send_fd(sv[0], sv[0]); /* waits at sv[1] */
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s/give.sock", argv[2]);
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(l >= 0 && bind(l, (struct sockaddr *)&a, sizeof a) == 0 && listen(l, 1) == 0,
          "listen: errno %d", errno);
    int c = accept(l, NULL, NULL);
    CHECK(c >= 0, "accept: errno %d", errno);
    send_fd(c, sv[1]);
    close(c);
    close(l);
  } else if (!strcmp(argv[1], "rights-locked")) {
    /* A descriptor in flight in a process that holds a POSIX lock. */
    char path[4096];
    snprintf(path, sizeof path, "%s/locked", argv[2]);
    int f = open(path, O_RDWR | O_CREAT, 0600);
    struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    CHECK(f >= 0 && fcntl(f, F_SETLK, &lock) == 0, "lock: errno %d", errno);
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair: errno %d", errno);
    send_fd(sv[0], sv[0]);
  } else if (!strcmp(argv[1], "backlog-bytes")) {
    /* A connection waiting to be accepted whose client sent bytes. */
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s/backlog.sock", argv[2]);
    int l = socket(AF_UNIX, SOCK_STREAM, 0), c = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(l >= 0 && bind(l, (struct sockaddr *)&a, sizeof a) == 0 && listen(l, 1) == 0 &&
              connect(c, (struct sockaddr *)&a, sizeof a) == 0 && write(c, "hi", 2) == 2,
          "listen, connect: errno %d", errno);
  } else if (!strcmp(argv[1], "backlog-unlinked")) {
    /* A connection waiting to be accepted by a listener whose path was unlinked since. */
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s/unlinked.sock", argv[2]);
    int l = socket(AF_UNIX, SOCK_STREAM, 0), c = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(l >= 0 && bind(l, (struct sockaddr *)&a, sizeof a) == 0 && listen(l, 1) == 0 &&
              connect(c, (struct sockaddr *)&a, sizeof a) == 0 && unlink(a.sun_path) == 0,
          "listen, connect, unlink: errno %d", errno);
  } else if (!strcmp(argv[1], "tcp-backlog-bytes")) {
    /* The same over TCP on loopback. */
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int l = socket(AF_INET, SOCK_STREAM, 0), c = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(l >= 0 && bind(l, (struct sockaddr *)&a, len) == 0 && listen(l, 1) == 0 &&
              getsockname(l, (struct sockaddr *)&a, &len) == 0 &&
              connect(c, (struct sockaddr *)&a, len) == 0 && write(c, "hi", 2) == 2,
          "listen, connect: errno %d", errno);
  } else if (!strcmp(argv[1], "netlink")) {
    CHECK(socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE) >= 0, "netlink socket: errno %d", errno);
  } else if (!strcmp(argv[1], "traced")) {
    traced();
  } else if (!strcmp(argv[1], "vfork")) {
    vforked();
  } else if (!strcmp(argv[1], "pty")) {
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    CHECK(master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0, "openpt: errno %d", errno);
    int slave = open(ptsname(master), O_RDWR | O_NOCTTY), on = 1;
    CHECK(slave >= 0, "open the slave: errno %d", errno);
    CHECK(ioctl(master, TIOCPKT, &on) == 0, "packet mode: errno %d", errno);
    CHECK(write(slave, "out\n", 4) == 4, "write: errno %d", errno); /* never read */
  } else if (!strcmp(argv[1], "cwd")) {
    char gone[4096];
    snprintf(gone, sizeof gone, "%s/gone", argv[2]);
    CHECK(mkdir(gone, 0700) == 0 && chdir(gone) == 0 && rmdir(gone) == 0, "cwd: errno %d", errno);
  } else if (!strcmp(argv[1], "long-fd")) {
    long_file(argv[2]);
  } else if (!strcmp(argv[1], "long-map")) {
    int fd = long_file(argv[2]);
    char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(p != MAP_FAILED, "mmap: errno %d", errno);
    close(fd);
    p[0] = 'x';
  } else if (!strcmp(argv[1], "setid-child")) {
    setid_child = setid_sleep(argv[2]);
  } else if (!strcmp(argv[1], "pidfd-outside")) { /* pid 1 as it is: the raw call, marked */
    long nr = SYS_pidfd_open;
    register long r9 __asm__("r9") = 0x416d6265725f7363L;
    __asm__ volatile("syscall" : "+a"(nr) : "D"(1L), "S"(0L), "r"(r9) : "rcx", "r11", "memory");
    CHECK(nr >= 0, "pidfd_open(1): %ld", nr);
  } else if (!strcmp(argv[1], "aio")) {
    aio_context(argv[2]);
  } else if (!strcmp(argv[1], "uring-map")) {
    uring_mapped();
  } else if (!strcmp(argv[1], "long-cwd")) {
    CHECK(chdir(deep_dir(argv[2], 1100)) == 0, "chdir: errno %d", errno);
  } else {
    CHECK(0, "unknown kind %s", argv[1]);
  }
  char go[4096];
  snprintf(go, sizeof go, "%s/go", argv[2]);
  printf("ready\n");
  for (long tick = 0; access(go, F_OK) != 0; tick++) {
    printf("tick %ld\n", tick);
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  if (setid_child > 0) {
    kill(setid_child, SIGKILL);
    waitpid(setid_child, NULL, 0);
  }
  if (tracer > 0) { /* the application ends with its last process */
    kill(tracer, SIGKILL);
    waitpid(tracer, NULL, 0);
  }
  if (vfork_child > 0) { /* lets its parent's thread go (a system pid: the raw call, marked) */
    long nr = SYS_kill;
    register long r9 __asm__("r9") = 0x416d6265725f7363L;
    __asm__ volatile("syscall"
                     : "+a"(nr)
                     : "D"(vfork_child), "S"((long)SIGKILL), "r"(r9)
                     : "rcx", "r11", "memory");
    pthread_join(vfork_waiter, NULL);
  }
  printf("PASS\n");
  return 0;
}
