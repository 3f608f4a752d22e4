/* An inotify instance across a restore: watch 1 on DIR/watched (a directory: IN_CREATE), watch 2
 * removed before the snapshot (its number must not be reused by the others), watch 3 on
 * DIR/file (IN_MODIFY), non-blocking, with a dup. After <dir>/go: no event is queued (the
 * placeholder that keeps number 2 free leaves none), a file made in DIR/watched comes as an
 * IN_CREATE on watch 1 through either descriptor, a write to DIR/file as an IN_MODIFY on
 * watch 3, and a new watch gets number 4.
 *
 * With "nobody": see nobody_mode.
 *
 *   inotify_state DIR [nobody] */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
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

/* As nobody (no CAP_DAC_READ_SEARCH: no file handle can be opened), a watch on DIR/sub; prints
 * "tick N" every 20 ms until DIR/go, then PASS. */
static int nobody_mode(const char *dir) {
  struct passwd *pw = getpwnam("nobody");
  CHECK(pw && setgid(pw->pw_gid) == 0 && setuid(pw->pw_uid) == 0, "become nobody: errno %d",
        errno);
  char sub[4096];
  snprintf(sub, sizeof sub, "%.3000s/sub", dir);
  CHECK(mkdir(sub, 0700) == 0, "mkdir %s: errno %d", sub, errno);
  int fd = inotify_init1(IN_CLOEXEC);
  CHECK(fd >= 0 && inotify_add_watch(fd, sub, IN_CREATE) == 1, "watch: errno %d", errno);
  tick_until_go(dir);
  printf("PASS\n");
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  CHECK(argc == 2 || argc == 3, "usage: inotify_state DIR [nobody]");
  if (argc == 3 && !strcmp(argv[2], "nobody")) return nobody_mode(argv[1]);
  const char *dir = argv[1];
  char watched[4096], file[4096], other[4096], made[4096];
  path_in(watched, sizeof watched, dir, "watched");
  path_in(file, sizeof file, dir, "file");
  path_in(other, sizeof other, dir, "other");
  path_in(made, sizeof made, watched, "new");
  CHECK(mkdir(watched, 0700) == 0, "mkdir: errno %d", errno);
  int f = open(file, O_WRONLY | O_CREAT, 0600), o = open(other, O_WRONLY | O_CREAT, 0600);
  CHECK(f >= 0 && o >= 0, "create: errno %d", errno);
  close(o);
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
  wait_go(dir);
  CHECK(read(fd, buf, sizeof buf) < 0 && errno == EAGAIN, "an event is queued after the restore");
  CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK, "the descriptor is blocking");
  int made_fd = open(made, O_WRONLY | O_CREAT, 0600);
  CHECK(made_fd >= 0, "create %s: errno %d", made, errno);
  close(made_fd);
  e = next_event(copy, buf, sizeof buf);
  CHECK(e->wd == 1 && (e->mask & IN_CREATE) && e->len && !strcmp(e->name, "new"),
        "the create: wd %d mask %#x name %s", e->wd, e->mask, e->len ? e->name : "");
  CHECK(write(f, "x", 1) == 1, "write");
  e = next_event(fd, buf, sizeof buf);
  CHECK(e->wd == 3 && (e->mask & IN_MODIFY), "the write: wd %d mask %#x", e->wd, e->mask);
  int wd = inotify_add_watch(fd, dir, IN_DELETE);
  CHECK(wd == 4, "a new watch has number %d, not 4", wd);
  printf("PASS\n");
  return 0;
}
