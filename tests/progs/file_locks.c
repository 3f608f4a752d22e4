/* File locks across a snapshot and restore: in DIR, a flock (exclusive) on flock-shared held
 * through a description this process shares with a forked child; a shared flock on flock-child
 * held only by the child (the parent closed its copy); POSIX locks on posix (write 0-99, read
 * 200-299, write from 1000 to the end; the child's through the same description, write 500-599);
 * OFD locks on ofd (write 10-19, read 30-39). Says "ready",
 * then in each round (DIR/go1, go2...) checks from inside that its locks are its own and that a
 * process of its own sees them held by its virtual pid (F_GETLK, /proc/locks, the lock lines of
 * /proc/<pid>/fdinfo/<fd>), and says
 * "locked N" (the child "child locked N"). On DIR/release both release every lock and say
 * "released"; on DIR/done it says PASS. lock_checker checks the same from outside.
 * With "lease": holds a read lease instead, which a snapshot must refuse. With "waiters": holds
 * a flock, a POSIX lock and an OFD lock that three children wait for (flock, F_SETLKW,
 * F_OFD_SETLKW); after DIR/go it releases them, each child must get its lock, and it says PASS. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "wait_go.h"

static const char *dir;

static int open_in(const char *name, int flags) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  int fd = open(path, flags | O_CREAT, 0600);
  CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
  return fd;
}

static int exists(const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return access(path, F_OK) == 0;
}

/* Waits for DIR/go<round> (1) or DIR/release (0). */
static int next_round(int round) {
  char go[32];
  snprintf(go, sizeof go, "go%d", round);
  for (;;) {
    if (exists("release")) return 0;
    if (exists(go)) return 1;
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}

static int range_lock(int fd, int cmd, int type, off_t start, off_t len) {
  struct flock fl = {.l_type = (short)type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
  return fcntl(fd, cmd, &fl);
}

static struct flock query(int fd, int cmd, int type, off_t start, off_t len) {
  struct flock fl = {.l_type = (short)type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
  CHECK(fcntl(fd, cmd, &fl) == 0, "F_GETLK: %s", strerror(errno));
  return fl;
}

static void read_proc_locks(char *text, size_t cap) {
  FILE *f = fopen("/proc/locks", "r");
  CHECK(f, "/proc/locks: %s", strerror(errno));
  size_t n = fread(text, 1, cap - 1, f);
  text[n] = 0;
  fclose(f);
}

/* Is a process waiting for a lock of this kind ("FLOCK", "POSIX", "OFDLCK") on fd's file? */
static int waits_on(const char *text, const char *kind, int fd) {
  struct stat st;
  CHECK(fstat(fd, &st) == 0, "fstat");
  char inode[32], want[32];
  snprintf(inode, sizeof inode, ":%lu ", (unsigned long)st.st_ino);
  snprintf(want, sizeof want, "-> %s ", kind);
  for (const char *line = text; *line;) {
    const char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line);
    char copy[256];
    snprintf(copy, sizeof copy, "%.*s ", (int)len, line);
    if (strstr(copy, want) && strstr(copy, inode)) return 1;
    line += len + (end != 0);
  }
  return 0;
}

/* In a process of the application that holds none of them: the parent's POSIX locks are
 * reported held by the parent's virtual pid, in F_GETLK and in /proc/locks. */
static void probe(pid_t holder, pid_t kid) {
  pid_t pid = fork();
  CHECK(pid >= 0, "fork: %s", strerror(errno));
  if (pid == 0) {
    int fd = open_in("posix", O_RDWR);
    struct flock fl = query(fd, F_GETLK, F_WRLCK, 0, 100);
    CHECK(fl.l_type == F_WRLCK && fl.l_pid == holder && fl.l_start == 0 && fl.l_len == 100,
          "F_GETLK on 0-99: type %d pid %d (want %d) %ld+%ld", fl.l_type, fl.l_pid, holder,
          (long)fl.l_start, (long)fl.l_len);
    fl = query(fd, F_GETLK, F_WRLCK, 200, 100);
    CHECK(fl.l_type == F_RDLCK && fl.l_pid == holder, "F_GETLK on 200-299: type %d pid %d",
          fl.l_type, fl.l_pid);
    fl = query(fd, F_GETLK, F_RDLCK, 200, 100);
    CHECK(fl.l_type == F_UNLCK, "a read lock on 200-299 is not free");
    fl = query(fd, F_GETLK, F_WRLCK, 100, 100);
    CHECK(fl.l_type == F_UNLCK, "100-199 is locked (type %d)", fl.l_type);
    fl = query(fd, F_GETLK, F_RDLCK, 550, 1);
    CHECK(fl.l_type == F_WRLCK && fl.l_pid == kid && fl.l_start == 500 && fl.l_len == 100,
          "F_GETLK on 500-599: type %d pid %d (want %d)", fl.l_type, fl.l_pid, kid);
    fl = query(fd, F_GETLK, F_RDLCK, 5000, 10);
    CHECK(fl.l_type == F_WRLCK && fl.l_start == 1000 && fl.l_len == 0,
          "the lock to the end: type %d %ld+%ld", fl.l_type, (long)fl.l_start, (long)fl.l_len);
    int ofd = open_in("ofd", O_RDWR);
    fl = query(ofd, F_GETLK, F_RDLCK, 10, 10);
    CHECK(fl.l_type == F_WRLCK && fl.l_pid == -1, "the OFD lock: type %d pid %d", fl.l_type,
          fl.l_pid);
    struct stat st;
    CHECK(fstat(fd, &st) == 0, "fstat");
    static char want[96], text[1 << 16];
    snprintf(want, sizeof want, " %d %02x:%02x:%lu 0 99\n", holder, major(st.st_dev),
             minor(st.st_dev), (unsigned long)st.st_ino);
    read_proc_locks(text, sizeof text);
    CHECK(strstr(text, want), "/proc/locks has no line ending in \"%s\":\n%s", want, text);
    _exit(0);
  }
  int status;
  CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "the probe failed");
}

/* The holder's own view of its descriptor: /proc/<its virtual pid>/fdinfo/<fd> lists its three
 * POSIX locks on fd's file ("lock:\t1: POSIX  ADVISORY  WRITE <pid> ..."), by its virtual pid. */
static void fdinfo_locks(pid_t holder, int fd) {
  char path[64], text[4096];
  snprintf(path, sizeof path, "/proc/%d/fdinfo/%d", holder, fd);
  FILE *f = fopen(path, "r");
  CHECK(f, "%s: %s", path, strerror(errno));
  size_t n = fread(text, 1, sizeof text - 1, f);
  text[n] = 0;
  fclose(f);
  int locks = 0;
  for (const char *line = text; (line = strstr(line, "lock:")) != 0; line++, locks++) {
    char kind[16], type[16];
    int pid = 0;
    CHECK(sscanf(line, "lock:\t%*d: %15s %*s %15s %d", kind, type, &pid) == 3 &&
              !strcmp(kind, "POSIX") && pid == holder,
          "%s names a lock holder %d, not %d:\n%s", path, pid, holder, text);
  }
  CHECK(locks == 3, "%s lists %d locks, not 3:\n%s", path, locks, text);
}

static void child(int flock_shared, int flock_child, int posix, int started) {
  CHECK(range_lock(posix, F_SETLK, F_WRLCK, 500, 100) == 0, "F_SETLK: %s", strerror(errno));
  CHECK(write(started, "x", 1) == 1, "write");
  for (int round = 1; next_round(round); round++) {
    int fresh = open_in("flock-child", O_RDWR);
    CHECK(flock(fresh, LOCK_EX | LOCK_NB) == -1 && errno == EWOULDBLOCK,
          "flock-child is not held by the child");
    close(fresh);
    CHECK(flock(flock_child, LOCK_SH | LOCK_NB) == 0, "the child's own flock: %s", strerror(errno));
    CHECK(flock(flock_shared, LOCK_EX | LOCK_NB) == 0, "the shared flock: %s", strerror(errno));
    CHECK(range_lock(posix, F_SETLK, F_WRLCK, 500, 100) == 0, "the child's own POSIX lock: %s",
          strerror(errno));
    printf("child locked %d\n", round);
    fflush(stdout);
  }
  CHECK(flock(flock_child, LOCK_UN) == 0, "unlock");
  CHECK(range_lock(posix, F_SETLK, F_UNLCK, 0, 0) == 0, "unlock");
  _exit(0);
}

/* A child waits for a lock its parent holds, takes it once the parent lets go, says so. */
static pid_t waiter(int kind, int fd) {
  pid_t pid = fork();
  CHECK(pid >= 0, "fork: %s", strerror(errno));
  if (pid) return pid;
  int r = kind == 0   ? flock(fd, LOCK_EX)
          : kind == 1 ? range_lock(fd, F_SETLKW, F_WRLCK, 0, 10)
                      : range_lock(fd, F_OFD_SETLKW, F_WRLCK, 0, 10);
  CHECK(r == 0, "waiter %d: %s", kind, strerror(errno));
  CHECK(exists("go"), "waiter %d got its lock before the parent let go", kind);
  printf("waiter %d got its lock\n", kind);
  fflush(stdout);
  _exit(0);
}

static void waiters(void) {
  static const char *names[] = {"wait-flock", "wait-posix", "wait-ofd"};
  int held[3], theirs[3];
  pid_t kids[3];
  for (int i = 0; i < 3; i++) {
    held[i] = open_in(names[i], O_RDWR);
    theirs[i] = open_in(names[i], O_RDWR); /* a description of their own, opened before */
  }
  CHECK(flock(held[0], LOCK_EX) == 0, "flock: %s", strerror(errno));
  CHECK(range_lock(held[1], F_SETLK, F_WRLCK, 0, 10) == 0, "F_SETLK: %s", strerror(errno));
  CHECK(range_lock(held[2], F_OFD_SETLK, F_WRLCK, 0, 10) == 0, "F_OFD_SETLK: %s",
        strerror(errno));
  for (int i = 0; i < 3; i++) kids[i] = waiter(i, theirs[i]);
  /* Each child blocked in its wait: the kernel lists it in /proc/locks with "->". */
  static const char *kinds[] = {"FLOCK", "POSIX", "OFDLCK"};
  for (int tries = 0;; tries++) {
    static char text[1 << 16];
    read_proc_locks(text, sizeof text);
    int blocked = 0;
    for (int i = 0; i < 3; i++) blocked += waits_on(text, kinds[i], held[i]);
    if (blocked == 3) break;
    CHECK(tries < 500, "the children do not wait for their locks");
    usleep(10000);
  }
  say_ready();
  wait_go(dir);
  usleep(100000); /* they still wait */
  CHECK(flock(held[0], LOCK_UN) == 0, "unlock: %s", strerror(errno));
  CHECK(range_lock(held[1], F_SETLK, F_UNLCK, 0, 0) == 0, "unlock: %s", strerror(errno));
  CHECK(range_lock(held[2], F_OFD_SETLK, F_UNLCK, 0, 0) == 0, "unlock: %s", strerror(errno));
  for (int i = 0; i < 3; i++) {
    int status;
    CHECK(waitpid(kids[i], &status, 0) == kids[i] && WIFEXITED(status) &&
              WEXITSTATUS(status) == 0,
          "waiter %d failed", i);
  }
  printf("PASS\n");
  exit(0);
}

int main(int argc, char **argv) {
  CHECK(argc >= 2, "usage: file_locks DIR [lease]");
  dir = argv[1];
  if (argc > 2 && !strcmp(argv[2], "waiters")) waiters();
  if (argc > 2 && !strcmp(argv[2], "lease")) {
    int fd = open_in("leased", O_RDONLY);
    CHECK(fcntl(fd, F_SETLEASE, F_RDLCK) == 0, "F_SETLEASE: %s", strerror(errno));
    say_ready();
    wait_go(dir);
    printf("PASS\n");
    return 0;
  }
  int flock_shared = open_in("flock-shared", O_RDWR);
  CHECK(flock(flock_shared, LOCK_EX) == 0, "flock: %s", strerror(errno));
  int flock_child = open_in("flock-child", O_RDWR);
  CHECK(flock(flock_child, LOCK_SH) == 0, "flock: %s", strerror(errno));
  int posix = open_in("posix", O_RDWR);
  CHECK(range_lock(posix, F_SETLK, F_WRLCK, 0, 100) == 0, "F_SETLK: %s", strerror(errno));
  CHECK(range_lock(posix, F_SETLK, F_RDLCK, 200, 100) == 0, "F_SETLK: %s", strerror(errno));
  CHECK(range_lock(posix, F_SETLK, F_WRLCK, 1000, 0) == 0, "F_SETLK: %s", strerror(errno));
  int ofd = open_in("ofd", O_RDWR);
  CHECK(range_lock(ofd, F_OFD_SETLK, F_WRLCK, 10, 10) == 0, "F_OFD_SETLK: %s", strerror(errno));
  CHECK(range_lock(ofd, F_OFD_SETLK, F_RDLCK, 30, 10) == 0, "F_OFD_SETLK: %s", strerror(errno));
  int started[2];
  CHECK(pipe(started) == 0, "pipe");
  pid_t kid = fork();
  CHECK(kid >= 0, "fork: %s", strerror(errno));
  if (kid == 0) child(flock_shared, flock_child, posix, started[1]);
  close(flock_child); /* the child alone holds that description now */
  char c;
  CHECK(read(started[0], &c, 1) == 1, "the child did not start");
  say_ready();
  for (int round = 1; next_round(round); round++) {
    int fresh = open_in("flock-shared", O_RDWR);
    CHECK(flock(fresh, LOCK_SH | LOCK_NB) == -1 && errno == EWOULDBLOCK,
          "flock-shared is not held");
    close(fresh);
    CHECK(flock(flock_shared, LOCK_EX | LOCK_NB) == 0, "the own flock: %s", strerror(errno));
    CHECK(range_lock(posix, F_SETLK, F_WRLCK, 0, 100) == 0, "the own POSIX lock: %s",
          strerror(errno));
    struct flock fl = query(posix, F_GETLK, F_WRLCK, 0, 500);
    CHECK(fl.l_type == F_UNLCK, "its own POSIX locks conflict with it (type %d pid %d)",
          fl.l_type, fl.l_pid);
    int other = open_in("ofd", O_RDWR);
    fl = query(other, F_OFD_GETLK, F_RDLCK, 10, 10);
    CHECK(fl.l_type == F_WRLCK && fl.l_pid == -1, "the OFD write lock: type %d pid %d",
          fl.l_type, fl.l_pid);
    fl = query(other, F_OFD_GETLK, F_WRLCK, 30, 10);
    CHECK(fl.l_type == F_RDLCK, "the OFD read lock: type %d", fl.l_type);
    fl = query(other, F_OFD_GETLK, F_RDLCK, 30, 10);
    CHECK(fl.l_type == F_UNLCK, "the OFD read lock is not a read lock");
    close(other);
    CHECK(range_lock(ofd, F_OFD_SETLK, F_WRLCK, 10, 10) == 0, "the own OFD lock: %s",
          strerror(errno));
    probe(getpid(), kid);
    fdinfo_locks(getpid(), posix);
    printf("locked %d\n", round);
    fflush(stdout);
  }
  CHECK(flock(flock_shared, LOCK_UN) == 0, "unlock: %s", strerror(errno));
  CHECK(range_lock(posix, F_SETLK, F_UNLCK, 0, 0) == 0, "unlock: %s", strerror(errno));
  CHECK(range_lock(ofd, F_OFD_SETLK, F_UNLCK, 0, 0) == 0, "unlock: %s", strerror(errno));
  int status;
  CHECK(waitpid(kid, &status, 0) == kid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "the child failed");
  printf("released\n");
  fflush(stdout);
  while (!exists("done")) {
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  printf("PASS\n");
  return 0;
}
