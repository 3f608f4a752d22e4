/* An inotify instance across a restore: watch 1 on DIR/watched (a directory: IN_CREATE), watch 2
 * removed before the snapshot (its number must not be reused by the others), watch 3 on
 * DIR/file (IN_MODIFY; the file is not held open across the snapshot), non-blocking, with a
 * dup. After <dir>/go: no event is queued (the placeholder that keeps number 2 free leaves
 * none), a file made in DIR/watched comes as an IN_CREATE on watch 1 through either
 * descriptor, a write to DIR/file as an IN_MODIFY on watch 3, and a new watch gets number 4.
 *
 * With "unprivileged": the same as nobody (no CAP_DAC_READ_SEARCH: no file handle can be
 * opened), in DIR/own; the watches' paths are the ones the library saw added. With "nobody":
 * see nobody_mode.
 *
 *   inotify_state DIR [unprivileged|nobody|nobody-exec FD] */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include "check.h"
#include "wait_go.h"

static void path_in(char *out, size_t cap, const char *dir, const char *name) {
  snprintf(out, cap, "%.3000s/%s", dir, name);
}

static struct inotify_event *next_event(int fd, char *buf, size_t cap) {
  for (int tries = 0; tries < 200; tries++) {
    ssize_t n = read(fd, buf, cap);
    if (n > 0) return (struct inotify_event *)buf;
    CHECK(n < 0 && errno == EAGAIN, "read: %zd errno %d", n, errno);
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  CHECK(0, "no event came");
}

static void become_nobody(void) {
  struct passwd *pw = getpwnam("nobody");
  CHECK(pw && setgroups(0, NULL) == 0 && setgid(pw->pw_gid) == 0 && setuid(pw->pw_uid) == 0,
        "become nobody: errno %d", errno);
}

/* As nobody, a watch on DIR/sub added before the library was loaded (the program execs itself
 * keeping the instance), so its path can only be found through its handle; prints "tick N"
 * every 20 ms until DIR/go, then PASS. */
static int nobody_mode(const char *self, const char *dir) {
  become_nobody();
  char sub[4096], fd_text[16];
  snprintf(sub, sizeof sub, "%.3000s/sub", dir);
  CHECK(mkdir(sub, 0700) == 0, "mkdir %s: errno %d", sub, errno);
  int fd = inotify_init1(0);
  CHECK(fd >= 0 && inotify_add_watch(fd, sub, IN_CREATE) == 1, "watch: errno %d", errno);
  snprintf(fd_text, sizeof fd_text, "%d", fd);
  execl(self, self, dir, "nobody-exec", fd_text, (char *)NULL);
  CHECK(0, "exec %s: errno %d", self, errno);
}

/* DIR/own, made for nobody, who the program then becomes. */
static const char *unprivileged(const char *dir) {
  static char own[4096];
  snprintf(own, sizeof own, "%.3000s/own", dir);
  struct passwd *pw = getpwnam("nobody");
  CHECK(pw && mkdir(own, 0700) == 0 && chown(own, pw->pw_uid, pw->pw_gid) == 0,
        "make %s for nobody: errno %d", own, errno);
  become_nobody();
  return own;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  CHECK(argc >= 2 && argc <= 4, "usage: inotify_state DIR [unprivileged|nobody|nobody-exec FD]");
  const char *mode = argc >= 3 ? argv[2] : "", *go = argv[1], *dir = argv[1];
  if (!strcmp(mode, "nobody")) return nobody_mode("/proc/self/exe", argv[1]);
  if (!strcmp(mode, "nobody-exec")) {
    CHECK(argc == 4 && fcntl(atoi(argv[3]), F_GETFD) >= 0, "the instance was not kept");
    tick_until_go(go);
    printf("PASS\n");
    return 0;
  }
  if (!strcmp(mode, "unprivileged")) dir = unprivileged(go);
  char watched[4096], file[4096], other[4096], made[4096];
  path_in(watched, sizeof watched, dir, "watched");
  path_in(file, sizeof file, dir, "file");
  path_in(other, sizeof other, dir, "other");
  path_in(made, sizeof made, watched, "new");
  CHECK(mkdir(watched, 0700) == 0, "mkdir: errno %d", errno);
  int f = open(file, O_WRONLY | O_CREAT, 0600), o = open(other, O_WRONLY | O_CREAT, 0600);
  CHECK(f >= 0 && o >= 0, "create: errno %d", errno);
  close(o);
  close(f); /* only watched across the snapshot: opened again to be written */
  int fd = inotify_init1(IN_NONBLOCK);
  CHECK(fd >= 0, "inotify_init1: errno %d", errno);
  CHECK(inotify_add_watch(fd, watched, IN_CREATE) == 1, "watch 1: errno %d", errno);
  CHECK(inotify_add_watch(fd, other, IN_ATTRIB) == 2, "watch 2: errno %d", errno);
  CHECK(inotify_add_watch(fd, file, IN_MODIFY) == 3, "watch 3: errno %d", errno);
  CHECK(inotify_rm_watch(fd, 2) == 0, "rm watch 2: errno %d", errno);
  char buf[4096] __attribute__((aligned(8)));
  struct inotify_event *e = next_event(fd, buf, sizeof buf);
  CHECK(e->wd == 2 && (e->mask & IN_IGNORED), "the removed watch's event: wd %d mask %#x", e->wd,
        e->mask);
  int copy = dup(fd);
  CHECK(copy >= 0, "dup");
  say_ready();
  wait_go(go);
  CHECK(read(fd, buf, sizeof buf) < 0 && errno == EAGAIN, "an event is queued after the restore");
  CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK, "the descriptor is blocking");
  int made_fd = open(made, O_WRONLY | O_CREAT, 0600);
  CHECK(made_fd >= 0, "create %s: errno %d", made, errno);
  close(made_fd);
  e = next_event(copy, buf, sizeof buf);
  CHECK(e->wd == 1 && (e->mask & IN_CREATE) && e->len && !strcmp(e->name, "new"),
        "the create: wd %d mask %#x name %s", e->wd, e->mask, e->len ? e->name : "");
  f = open(file, O_WRONLY);
  CHECK(f >= 0 && write(f, "x", 1) == 1, "write: errno %d", errno);
  e = next_event(fd, buf, sizeof buf);
  CHECK(e->wd == 3 && (e->mask & IN_MODIFY), "the write: wd %d mask %#x", e->wd, e->mask);
  int wd = inotify_add_watch(fd, dir, IN_DELETE);
  CHECK(wd == 4, "a new watch has number %d, not 4", wd);
  printf("PASS\n");
  return 0;
}
