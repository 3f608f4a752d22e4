/* A thread's CPU time goes on across a restore: a thread burns CPU, then reads its own clock
 * (CLOCK_THREAD_CPUTIME_ID) again and again, checking that it never goes back, also across the
 * snapshot and restore; the main thread, which burnt some too, reads its own clock and the
 * burner's (pthread_getcpuclockid). After the restore each reads at least what it read before,
 * and the clocks still advance. */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "check.h"
#include "wait_go.h"

static atomic_llong burned, latest, back_from, back_to; /* the burner's readings */
static atomic_int finish;

static long long ns(clockid_t clock) {
  struct timespec ts;
  CHECK(clock_gettime(clock, &ts) == 0, "clock_gettime");
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void burn_until(clockid_t clock, long long target) {
  while (ns(clock) < target) {}
}

static void *burner(void *arg) {
  burn_until(CLOCK_THREAD_CPUTIME_ID, 150000000);
  long long prev = ns(CLOCK_THREAD_CPUTIME_ID);
  burned = prev;
  while (!finish) {
    long long now = ns(CLOCK_THREAD_CPUTIME_ID);
    if (now < prev && !back_from) {
      back_to = now;
      back_from = prev;
    }
    latest = prev = now;
    burn_until(CLOCK_THREAD_CPUTIME_ID, now + 100000); /* 0.1 ms of work */
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);
  }
  return arg;
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: thread_cpu_time DIR");
  pthread_t thread;
  CHECK(pthread_create(&thread, NULL, burner, NULL) == 0, "pthread_create");
  clockid_t burners, mine;
  CHECK(pthread_getcpuclockid(thread, &burners) == 0, "the burner's clock");
  CHECK(pthread_getcpuclockid(pthread_self(), &mine) == 0, "the main thread's clock");
  burn_until(CLOCK_THREAD_CPUTIME_ID, 50000000);
  while (!burned) {
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);
  }
  long long own_before = ns(CLOCK_THREAD_CPUTIME_ID), kept_before = ns(burners);
  CHECK(kept_before >= burned, "the burner's clock reads %lld, it read %lld", kept_before,
        (long long)burned);
  say_ready();
  wait_go(argv[1]);

  long long own_after = ns(CLOCK_THREAD_CPUTIME_ID), mine_after = ns(mine);
  long long kept_after = ns(burners), seen = latest;
  CHECK(own_after >= own_before, "the main thread's clock went back: %lld, then %lld", own_before,
        own_after);
  CHECK(mine_after >= own_after, "the main thread's clock by its ID reads %lld, by itself %lld",
        mine_after, own_after);
  CHECK(kept_after >= kept_before, "the burner's clock went back: %lld, then %lld", kept_before,
        kept_after);
  while (latest < seen + 500000) { /* the burner goes on, and so does its clock */
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);
  }
  CHECK(!back_from, "the burner read its clock go back: %lld, then %lld", (long long)back_from,
        (long long)back_to);
  burn_until(CLOCK_THREAD_CPUTIME_ID, own_after + 1000000);
  CHECK(ns(mine) > mine_after, "the main thread's clock does not advance");
  finish = 1;
  pthread_join(thread, NULL);
  printf("PASS\n");
  return 0;
}
