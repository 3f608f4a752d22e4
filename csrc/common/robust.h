/* The one kind of lock Amber's shared tables use: a process-shared, robust mutex, so that a
 * process killed while it holds the lock does not wedge the others. Every writer keeps rows valid
 * at each store, so a lock whose holder died is simply marked consistent and taken. */
#ifndef AMBER_ROBUST_H
#define AMBER_ROBUST_H

#include <errno.h>
#include <pthread.h>

static inline void amber_robust_init(pthread_mutex_t *lock) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(lock, &attr);
  pthread_mutexattr_destroy(&attr);
}

static inline void amber_robust_lock(pthread_mutex_t *lock) {
  if (pthread_mutex_lock(lock) == EOWNERDEAD) pthread_mutex_consistent(lock);
}

#endif
