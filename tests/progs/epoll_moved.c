/* Epoll registrations whose descriptor moved before the snapshot: pipe A's read end registered
 * as descriptor NA (data 111), dup'ed and NA closed; pipe B's registered as NB (data 222),
 * dup'ed, NB closed and taken since by an eventfd that is not registered. After <dir>/go: the
 * epoll lists the registrations under NA and NB as before (fdinfo), a byte in A or B wakes it
 * with its data, the eventfd does not, and EPOLL_CTL_DEL under the dup's number finds nothing
 * (the registration is NA's, as it was). With "gone": the only holder of a registered pipe end
 * is a forked child, which the snapshot must refuse by name; it prints "tick N" every 20 ms
 * until <dir>/go, then PASS.
 *
 *   epoll_moved DIR [gone] */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "check.h"
#include "wait_go.h"

static void add(int ep, int fd, uint64_t data) {
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = data};
  CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0, "EPOLL_CTL_ADD %d: errno %d", fd, errno);
}

static uint64_t wait_one(int ep) {
  struct epoll_event ev[4];
  int n = epoll_wait(ep, ev, 4, 2000);
  CHECK(n == 1, "epoll_wait: %d events (errno %d)", n, errno);
  return ev[0].data.u64;
}

/* The numbers fdinfo lists as registered ("tfd: N"), lowest first, in a string "N M ". */
static void registered(int ep, char *out, size_t cap) {
  char path[64], text[4096];
  snprintf(path, sizeof path, "/proc/self/fdinfo/%d", ep);
  FILE *f = fopen(path, "r");
  CHECK(f, "%s: errno %d", path, errno);
  size_t n = fread(text, 1, sizeof text - 1, f);
  text[n] = 0;
  fclose(f);
  int tfds[8], n_tfds = 0;
  for (const char *p = text; (p = strstr(p, "tfd:")) != 0 && n_tfds < 8; p++) {
    int tfd = atoi(p + 4), at = n_tfds++;
    while (at > 0 && tfds[at - 1] > tfd) tfds[at] = tfds[at - 1], at--;
    tfds[at] = tfd;
  }
  out[0] = 0;
  for (int i = 0; i < n_tfds; i++) snprintf(out + strlen(out), cap - strlen(out), "%d ", tfds[i]);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  CHECK(argc >= 2, "usage: epoll_moved DIR [gone]");
  int ep = epoll_create1(EPOLL_CLOEXEC);
  int a[2], b[2];
  CHECK(ep >= 0 && pipe(a) == 0 && pipe(b) == 0, "setup: errno %d", errno);
  if (argc > 2 && !strcmp(argv[2], "gone")) {
    add(ep, a[0], 111);
    pid_t child = fork();
    CHECK(child >= 0, "fork");
    if (child == 0) { /* holds a[0], and ends with its parent */
      for (;;) pause();
    }
    close(a[0]);
    tick_until_go(argv[1]);
    kill(child, SIGKILL);
    printf("PASS\n");
    return 0;
  }
  int na = a[0], nb = b[0];
  add(ep, na, 111);
  int da = dup(na);
  close(na);
  add(ep, nb, 222);
  int db = dup(nb);
  close(nb);
  int ev = eventfd(0, 0);
  CHECK(ev == nb, "the eventfd took %d, not %d", ev, nb);
  char want[64], now[64];
  snprintf(want, sizeof want, "%d %d ", na, nb);
  registered(ep, now, sizeof now);
  CHECK(!strcmp(now, want), "registered before: '%s', not '%s'", now, want);
  say_ready();
  wait_go(argv[1]);
  registered(ep, now, sizeof now);
  CHECK(!strcmp(now, want), "registered after the restore: '%s', not '%s'", now, want);
  uint64_t one = 1;
  CHECK(write(ev, &one, sizeof one) == sizeof one, "eventfd write");
  struct epoll_event none[1];
  CHECK(epoll_wait(ep, none, 1, 50) == 0, "the eventfd at %d woke the epoll", ev);
  CHECK(write(a[1], "x", 1) == 1, "write A");
  CHECK(wait_one(ep) == 111, "A's data");
  char c;
  CHECK(read(da, &c, 1) == 1, "read A through its dup");
  CHECK(write(b[1], "y", 1) == 1, "write B");
  CHECK(wait_one(ep) == 222, "B's data");
  CHECK(read(db, &c, 1) == 1, "read B through its dup");
  CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, da, NULL) < 0 && errno == ENOENT,
        "EPOLL_CTL_DEL under the dup's number: errno %d, not ENOENT", errno);
  printf("PASS\n");
  return 0;
}
