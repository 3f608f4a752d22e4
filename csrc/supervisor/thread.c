/* The supervisor's helper threads. */
#include <pthread.h>
#include <signal.h>

#include "supervisor.h"

void sup_thread_start(void *(*run)(void *)) {
  /* Every signal blocked in the thread: SIGCHLD is the main thread's to wait for (reap_all). */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t thread;
  if (pthread_create(&thread, NULL, run, NULL) == 0) pthread_detach(thread);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}
