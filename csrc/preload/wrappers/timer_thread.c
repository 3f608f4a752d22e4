/* SIGEV_THREAD timers, run by the library instead of glibc. glibc's helper thread blocks every
 * signal, Amber's checkpoint signal too, so no snapshot could ever stop it. Here one helper
 * thread per process takes the expiries (a SIGEV_THREAD_ID timer aimed at it, on glibc's own
 * SIGTIMER, 32, which programs cannot use), with every signal blocked but the checkpoint
 * signal, and calls each timer's function itself, one expiry after another (glibc starts a
 * thread for each). The helper is an ordinary thread of the program: a snapshot freezes it, a
 * restore brings it back, and the timers aimed at it are aimed at its new TID
 * (agent_timers.c), so they go on firing. */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#include "../core/amber.h"
#include "../core/util.h"

#define SIGTIMER 32

struct thread_timer {
  void (*function)(union sigval);
  union sigval value;
};

static pthread_mutex_t helper_lock = PTHREAD_MUTEX_INITIALIZER;

/* Which timer owns which thread_timer, so that timer_delete frees it. */
#define TRACKED 256
static struct {
  timer_t id;
  struct thread_timer *t;
} tracked[TRACKED];
static int32_t helper_vtid; /* virtual, so that it names the helper after a restore too */

static void *helper(void *started) {
  uint64_t all_but_checkpoint = ~(1ULL << (AMBER_CKPT_SIGNAL - 1));
  amber_sys4(SYS_rt_sigprocmask, SIG_SETMASK, &all_but_checkpoint, 0, 8);
  __atomic_store_n((int32_t *)started, amber_self_vtid(), __ATOMIC_RELEASE);
  amber_futex_wake((uint32_t *)started, 0);
  uint64_t expiry = 1ULL << (SIGTIMER - 1);
  for (;;) {
    siginfo_t info;
    /* Interrupted by a checkpoint (or coming back from a restore): wait again. */
    if (amber_sys4(SYS_rt_sigtimedwait, &expiry, &info, 0, 8) != SIGTIMER) continue;
    struct thread_timer *t = info.si_value.sival_ptr;
    if (t && t->function) t->function(t->value);
  }
  return 0;
}

static void forget_helper(void) { helper_vtid = 0; } /* a forked child has no helper */

/* The helper's system TID, started on first use; or -1. */
static int32_t helper_tid(void) {
  static int atfork_registered;
  pthread_mutex_lock(&helper_lock);
  if (!atfork_registered) atfork_registered = !pthread_atfork(0, 0, forget_helper);
  if (!helper_vtid) {
    static int32_t started;
    started = 0;
    pthread_t thread;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&thread, &attr, helper, &started) == 0) {
      while (!__atomic_load_n(&started, __ATOMIC_ACQUIRE))
        amber_futex_wait((uint32_t *)&started, 0, 0, 100);
      helper_vtid = started;
    }
    pthread_attr_destroy(&attr);
  }
  int32_t tid = helper_vtid > 0 ? amber_pid_v2s(helper_vtid) : -1;
  pthread_mutex_unlock(&helper_lock);
  return tid;
}

int amber_timer_create_thread(clockid_t clock, const struct sigevent *ev, timer_t *timer,
                              int (*create)(clockid_t, struct sigevent *, timer_t *)) {
  int32_t tid = helper_tid();
  struct thread_timer *t = malloc(sizeof *t); /* lives as long as the timer: in saved memory */
  if (tid < 0 || !t) {
    free(t);
    errno = EAGAIN;
    return -1;
  }
  t->function = ev->sigev_notify_function;
  t->value = ev->sigev_value;
  struct sigevent aimed = {.sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGTIMER};
  aimed.sigev_value.sival_ptr = t;
  aimed._sigev_un._tid = tid;
  int r = create(clock, &aimed, timer);
  if (r) {
    free(t);
    return r;
  }
  pthread_mutex_lock(&helper_lock);
  for (int i = 0; i < TRACKED; i++) /* untracked when full: a few bytes leak, nothing breaks */
    if (!tracked[i].t) {
      tracked[i].id = *timer;
      tracked[i].t = t;
      break;
    }
  pthread_mutex_unlock(&helper_lock);
  return 0;
}

void amber_timer_thread_forget(timer_t timer) {
  pthread_mutex_lock(&helper_lock);
  for (int i = 0; i < TRACKED; i++)
    if (tracked[i].t && tracked[i].id == timer) {
      free(tracked[i].t);
      tracked[i].t = 0;
    }
  pthread_mutex_unlock(&helper_lock);
}
