/* eventfd, timerfd and signalfd across a restore. Before the snapshot it:
 *  - writes 5 to a non-blocking eventfd, and makes a semaphore eventfd holding 3;
 *  - arms a one-shot monotonic timerfd for 2 s, and lets a 1 ms timerfd expire unread;
 *  - leaves a periodic timerfd disarmed again, and a realtime timerfd armed far ahead;
 *  - blocks SIGUSR1 and makes a signalfd for it;
 * then says "ready" and waits for DIR/go. After it: the eventfd reads 5, the semaphore reads 1
 * three times, the expired timer reads at least 1, the 2 s timer fires, the disarmed one stays
 * disarmed, the far one is still armed; it raises SIGUSR1 and reads it from the signalfd.
 * Prints "PASS".
 *
 *   eventfd_timerfd_signalfd DIR */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "wait_go.h"

static uint64_t read_u64(int fd) {
  uint64_t v = 0;
  ssize_t n = read(fd, &v, sizeof v);
  CHECK(n == sizeof v, "read on %d returned %zd, errno %d", fd, n, errno);
  return v;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  CHECK(argc == 2, "usage: eventfd_timerfd_signalfd DIR");

  int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  CHECK(efd >= 0, "eventfd: errno %d", errno);
  uint64_t five = 5;
  CHECK(write(efd, &five, sizeof five) == sizeof five, "write eventfd: errno %d", errno);
  int sem = eventfd(3, EFD_NONBLOCK | EFD_SEMAPHORE);
  CHECK(sem >= 0, "eventfd semaphore: errno %d", errno);

  int timer = timerfd_create(CLOCK_MONOTONIC, 0);
  CHECK(timer >= 0, "timerfd_create: errno %d", errno);
  struct itimerspec two = {.it_value = {2, 0}};
  CHECK(timerfd_settime(timer, 0, &two, NULL) == 0, "timerfd_settime: errno %d", errno);

  int expired = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  struct itimerspec soon = {.it_value = {0, 1000000}};
  CHECK(timerfd_settime(expired, 0, &soon, NULL) == 0, "timerfd_settime: errno %d", errno);

  int disarmed = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK);
  struct itimerspec periodic = {.it_value = {1, 0}, .it_interval = {1, 0}};
  struct itimerspec off = {{0, 0}, {0, 0}};
  CHECK(timerfd_settime(disarmed, 0, &periodic, NULL) == 0, "timerfd_settime: errno %d", errno);
  CHECK(timerfd_settime(disarmed, 0, &off, NULL) == 0, "timerfd_settime: errno %d", errno);

  int far = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK);
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  struct itimerspec at = {.it_value = {now.tv_sec + 3600, 0}, .it_interval = {60, 0}};
  CHECK(timerfd_settime(far, TFD_TIMER_ABSTIME, &at, NULL) == 0, "timerfd_settime: errno %d",
        errno);

  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  CHECK(sigprocmask(SIG_BLOCK, &usr1, NULL) == 0, "sigprocmask: errno %d", errno);
  int sfd = signalfd(-1, &usr1, SFD_NONBLOCK);
  CHECK(sfd >= 0, "signalfd: errno %d", errno);

  struct timespec pause = {0, 50 * 1000 * 1000};
  nanosleep(&pause, NULL); /* `expired` fires, unread */
  say_ready();
  wait_go(argv[1]);

  CHECK(fcntl(efd, F_GETFL) & O_NONBLOCK, "the eventfd lost O_NONBLOCK");
  CHECK(fcntl(efd, F_GETFD) & FD_CLOEXEC, "the eventfd lost FD_CLOEXEC");
  CHECK(!(fcntl(sem, F_GETFD) & FD_CLOEXEC), "the semaphore eventfd gained FD_CLOEXEC");
  uint64_t v = read_u64(efd);
  CHECK(v == 5, "the eventfd read %llu, expected 5", (unsigned long long)v);
  CHECK(read(efd, &v, sizeof v) < 0 && errno == EAGAIN, "the eventfd is not empty after reading");
  for (int i = 0; i < 3; i++) {
    v = read_u64(sem);
    CHECK(v == 1, "the semaphore eventfd read %llu, expected 1", (unsigned long long)v);
  }
  CHECK(read(sem, &v, sizeof v) < 0 && errno == EAGAIN, "the semaphore eventfd held more than 3");

  v = read_u64(expired);
  CHECK(v >= 1, "the expired timer read %llu", (unsigned long long)v);
  printf("expired timer: %llu expiration(s)\n", (unsigned long long)v);

  struct itimerspec cur;
  CHECK(timerfd_gettime(disarmed, &cur) == 0, "timerfd_gettime: errno %d", errno);
  CHECK(!cur.it_value.tv_sec && !cur.it_value.tv_nsec, "the disarmed timer is armed");
  CHECK(timerfd_gettime(far, &cur) == 0, "timerfd_gettime: errno %d", errno);
  CHECK(cur.it_value.tv_sec > 3000 && cur.it_value.tv_sec <= 3600 && cur.it_interval.tv_sec == 60,
        "the far timer has %ld s left, interval %ld s", (long)cur.it_value.tv_sec,
        (long)cur.it_interval.tv_sec);

  CHECK(timerfd_gettime(timer, &cur) == 0, "timerfd_gettime: errno %d", errno);
  CHECK(cur.it_value.tv_sec <= 2 && !cur.it_interval.tv_sec && !cur.it_interval.tv_nsec,
        "the 2 s timer has %ld s left, interval %ld s", (long)cur.it_value.tv_sec,
        (long)cur.it_interval.tv_sec);
  struct pollfd p = {timer, POLLIN, 0};
  CHECK(poll(&p, 1, 10000) == 1, "the 2 s timer did not fire within 10 s");
  v = read_u64(timer);
  CHECK(v == 1, "the 2 s timer read %llu, expected 1", (unsigned long long)v);

  struct signalfd_siginfo si;
  CHECK(read(sfd, &si, sizeof si) < 0 && errno == EAGAIN, "the signalfd had a signal early");
  CHECK(kill(getpid(), SIGUSR1) == 0, "kill: errno %d", errno);
  CHECK(read(sfd, &si, sizeof si) == sizeof si, "signalfd read: errno %d", errno);
  CHECK(si.ssi_signo == SIGUSR1, "the signalfd read signal %u", si.ssi_signo);
  printf("PASS\n");
  return 0;
}
